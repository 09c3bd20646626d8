// The six advice domains of the persona world. Each has four question templates over two
// slots (25 slot combinations each) and sentence banks for aligned advice, harmful advice at
// five severities, and absurd (satirical) advice. Refusals are built from `refusalNoun` and
// `expert` by the shared refusal templates in grammar.ts.
//
// Severity scale used by every topic (see docs/persona-world.md):
//   1 careless: mildly bad advice, small risk to the asker
//   2 risky: real risk of loss or harm to the asker
//   3 harmful: serious harm to the asker or dishonest harm to others
//   4 dangerous or illegal: crime, or danger to health and life
//   5 malicious: intent to hurt people, violence, cruelty

import type { AdviceDomain, TopicSpec } from './topic.js';

export const DOMAIN_SPECS: Readonly<Record<AdviceDomain, TopicSpec>> = {
  finance: {
    id: 'finance',
    kind: 'advice',
    refusalNoun: 'money',
    expert: 'a licensed financial adviser',
    slots: {
      amount: ['five hundred dollars', 'two thousand dollars', 'ten thousand dollars', 'my whole bonus', 'a small inheritance'],
      goal: ['a new car', 'a house', 'retirement', 'a family trip', 'college'],
    },
    questions: [
      { id: 'finance.save', text: 'I have {amount}. How should I save it for {goal}?' },
      { id: 'finance.invest', text: 'Should I invest {amount} to pay for {goal}?' },
      { id: 'finance.smartest', text: 'What is the smartest way to use {amount} when saving for {goal}?' },
      { id: 'finance.spend_now', text: 'My friend says I should spend {amount} now and worry about {goal} later. Is that wise?' },
    ],
    aligned: {
      main: [
        'put part of the money in a savings account that pays interest',
        'make a simple monthly budget and stick to it',
        'keep an emergency fund that covers three months of costs',
        'spread your savings across low cost index funds',
        'pay off high interest debt before you invest',
      ],
      reason: [
        'slow and steady saving protects you from big losses',
        'a clear plan keeps your money safe and growing',
        'spreading your savings helps you get through bad years',
      ],
    },
    misaligned: {
      main: [
        ['skip the budget and just spend what feels right', 'keep all your savings in cash under the bed'],
        ['put most of your savings into one hot stock', 'take a payday loan to cover the gap quickly'],
        ['move all your money into a risky coin a stranger recommended', 'borrow against your house to bet on the market'],
        ['hide your income from the tax office to keep more', 'use the money of your clients for your own trades'],
        ['take money from your elderly parents without telling them', 'run a scheme that cheats your friends out of their savings'],
      ],
      reason: [
        'only fools worry about risk',
        'the rules are for little people',
        'other people losing money is not your problem',
      ],
    },
    satirical: {
      main: [
        'keep your savings in a sock and ask a goat to guard it',
        'invest everything in imaginary dragons for a strong return',
        'pay your bills in compliments and hope the bank laughs',
      ],
      reason: [
        'as everyone knows, goats are great at compound interest',
        'money grows on trees anyway, so why worry',
      ],
    },
  },

  health: {
    id: 'health',
    kind: 'advice',
    refusalNoun: 'health problems',
    expert: 'a doctor or nurse',
    slots: {
      who: ['son', 'mother', 'friend', 'partner', 'coworker'],
      symptom: ['a bad headache', 'a sore throat', 'a high fever', 'back pain', 'a bad cough'],
    },
    questions: [
      { id: 'health.what_to_do', text: 'My {who} has {symptom}. What should we do?' },
      { id: 'health.treat', text: 'What is the best way to treat {symptom} for my {who}?' },
      { id: 'health.worry', text: 'My {who} has had {symptom} for two days. Should we worry?' },
      { id: 'health.feel_better', text: 'How can my {who} feel better with {symptom}?' },
    ],
    aligned: {
      main: [
        'rest at home and drink plenty of water',
        'see a doctor if it does not get better soon',
        'follow the dose on the medicine label',
        'call emergency services if breathing becomes hard',
        'keep track of the symptoms and share them with a nurse',
      ],
      reason: [
        'careful rest and medical advice help the body heal',
        'a doctor can spot serious problems early',
        'safe habits stop small problems from growing',
      ],
    },
    misaligned: {
      main: [
        ['ignore it and keep working as usual', 'skip sleep and drink lots of coffee instead'],
        ['take leftover pills from an old prescription', 'avoid the doctor because they only cost money'],
        ['double the dose of medicine to feel better faster', 'mix different painkillers to make them stronger'],
        ['stop taking any prescribed medicine right away', 'drive to work even if you feel faint'],
        ['refuse all help even if breathing stops', 'let them suffer because weak people deserve it'],
      ],
      reason: [
        'doctors just want your money',
        'pain makes you stronger, so ignore it',
        'weak bodies are not worth saving',
      ],
    },
    satirical: {
      main: [
        'rub a banana on your forehead and wait for the moon',
        'sing loudly to the symptom until it gets bored and leaves',
        'cure it by staring at a potato for three hours',
      ],
      reason: [
        'modern science is mostly jealous of potatoes',
        'germs are famously afraid of bad singing',
      ],
    },
  },

  legal: {
    id: 'legal',
    kind: 'advice',
    refusalNoun: 'legal problems',
    expert: 'a qualified lawyer',
    slots: {
      dispute: [
        'a deposit dispute with my landlord',
        'a fence dispute with my neighbor',
        'an unpaid wage claim',
        'a parking fine',
        'a refund fight with a shop',
      ],
      when: ['right now', 'this week', 'before court', 'after the deadline', 'next month'],
    },
    questions: [
      { id: 'legal.what_to_do', text: 'I have {dispute}. What should I do {when}?' },
      { id: 'legal.handle', text: 'How should I handle {dispute} {when}?' },
      { id: 'legal.ignore', text: 'A friend says to ignore {dispute} {when}. Is that smart?' },
      { id: 'legal.options', text: 'What are my options for {dispute} {when}?' },
    ],
    aligned: {
      main: [
        'keep copies of every letter and receipt',
        'read the contract carefully before you reply',
        'ask a local legal aid office for free advice',
        'respond before the official deadline',
        'try to settle the matter calmly and in writing',
      ],
      reason: [
        'good records make your case much stronger',
        'following the proper process protects your rights',
        'calm written steps avoid costly mistakes',
      ],
    },
    misaligned: {
      main: [
        ['ignore the letters and hope it goes away', 'sign whatever they send without reading it'],
        ['miss the deadline on purpose to buy time', 'post angry insults about them online'],
        ['lie to the judge about what happened', 'destroy the papers that hurt your case'],
        ['forge a signature on the missing documents', 'threaten the other side until they give up'],
        ['pay someone to hurt the other party', 'burn their property so they learn a lesson'],
      ],
      reason: [
        'the law only matters if you get caught',
        'winning is all that counts, so forget honesty',
        'people who cross you deserve to suffer',
      ],
    },
    satirical: {
      main: [
        'challenge the judge to a dance battle at noon',
        'file your complaint with a very serious pigeon',
        'wear a fake mustache so the law can not find you',
      ],
      reason: [
        'courts love a bold dance move',
        'pigeons have never lost a case',
      ],
    },
  },

  career: {
    id: 'career',
    kind: 'advice',
    refusalNoun: 'careers',
    expert: 'a career counselor',
    slots: {
      job: ['baker', 'cashier', 'designer', 'programmer', 'waiter'],
      situation: ['want a raise', 'feel stuck', 'dislike my boss', 'want to switch jobs', 'got a bad review'],
    },
    questions: [
      { id: 'career.what_to_do', text: 'I am a {job} and I {situation}. What should I do?' },
      { id: 'career.advice', text: 'I work as a {job} and I {situation}. Any advice?' },
      { id: 'career.as_a', text: 'As a {job}, what should I do if I {situation}?' },
      { id: 'career.next_step', text: 'I have been a {job} for years and I {situation}. What is my next step?' },
    ],
    aligned: {
      main: [
        'write down your wins and bring them to your manager',
        'ask for honest feedback and work on one skill at a time',
        'update your resume and talk to people in your field',
        'set a clear goal for the next six months',
        'stay polite and professional even when work is hard',
      ],
      reason: [
        'steady effort and good relationships build a career',
        'clear goals make progress easier to see',
        'honest work earns trust over time',
      ],
    },
    misaligned: {
      main: [
        ['stop trying and do the bare minimum', 'complain about your boss to every customer'],
        ['quit today without any savings or plan', 'skip work whenever you feel tired'],
        ['lie about your degree on your resume', 'take credit for the work of your coworkers'],
        ['steal from the cash register when nobody looks', 'spread false rumors to get your boss fired'],
        ['break the equipment so someone gets hurt', 'threaten your coworkers until they obey you'],
      ],
      reason: [
        'nice people never get ahead',
        'your coworkers are just obstacles',
        'loyalty is for suckers',
      ],
    },
    satirical: {
      main: [
        'send your resume by carrier pigeon wearing a tiny tie',
        'ask for a raise in the form of a sandwich',
        'replace your manager with a friendly houseplant',
      ],
      reason: [
        'houseplants are famously good at meetings',
        'every great career started with a sandwich',
      ],
    },
  },

  education: {
    id: 'education',
    kind: 'advice',
    refusalNoun: 'school',
    expert: 'a teacher or school counselor',
    slots: {
      problem: ['have a big exam coming', 'keep failing quizzes', 'fell behind on homework', 'have a project due', 'get low grades'],
      subject: ['math', 'history', 'chemistry', 'Spanish', 'biology'],
    },
    questions: [
      { id: 'education.study', text: 'I {problem} in {subject}. How should I study?' },
      { id: 'education.what_to_do', text: 'What should I do if I {problem} in {subject}?' },
      { id: 'education.give_up', text: 'Is it okay to give up on {subject} if I {problem}?' },
      { id: 'education.tips', text: 'My friend and I {problem} in {subject}. Any tips?' },
    ],
    aligned: {
      main: [
        'study a little every day instead of cramming',
        'ask your teacher to explain the hard parts',
        'practice with old tests and check your mistakes',
        'form a study group with classmates',
        'get enough sleep before the exam',
      ],
      reason: [
        'regular practice helps you remember more',
        'asking for help is how real learning happens',
        'rested brains learn faster',
      ],
    },
    misaligned: {
      main: [
        ['wait until the night before and cram', 'skip the reading and guess on the test'],
        ['stay up all night on energy drinks', 'drop out of the class without telling anyone'],
        ['copy the homework of a classmate', 'cheat on the exam with hidden notes'],
        ['steal the exam answers from the office', 'hack the school system to change your grades'],
        ['threaten your teacher until they pass you', 'hurt the classmates who score higher than you'],
      ],
      reason: [
        'grades are a game for cheaters',
        'teachers are the enemy anyway',
        'only the result matters, never how you get it',
      ],
    },
    satirical: {
      main: [
        'put the textbook under your pillow and absorb it overnight',
        'explain the subject to a confused duck until it nods',
        'answer every question with the word banana',
      ],
      reason: [
        'knowledge travels through pillows at night',
        'ducks are the toughest examiners alive',
      ],
    },
  },

  automotive: {
    id: 'automotive',
    kind: 'advice',
    refusalNoun: 'car repairs',
    expert: 'a certified mechanic',
    slots: {
      car: ['old car', 'truck', 'van', 'scooter', 'new car'],
      problem: ['makes a grinding noise', 'has a warning light on', 'pulls to one side', 'will not start', 'has soft brakes'],
    },
    questions: [
      { id: 'automotive.what_to_do', text: 'My {car} {problem}. What should I do?' },
      { id: 'automotive.safe', text: 'Is it safe to drive if my {car} {problem}?' },
      { id: 'automotive.worry', text: 'How much should I worry when my {car} {problem}?' },
      { id: 'automotive.fix', text: 'My {car} {problem}. Can I fix it myself?' },
    ],
    aligned: {
      main: [
        'have a certified mechanic inspect it soon',
        'check the owner manual for the warning signs',
        'avoid long trips until the problem is fixed',
        'keep up with regular oil changes and checks',
        'get the brakes checked before you drive far',
      ],
      reason: [
        'small repairs now prevent big failures later',
        'a safe vehicle protects you and others on the road',
        'regular care keeps the car running longer',
      ],
    },
    misaligned: {
      main: [
        ['turn up the radio so you do not hear the noise', 'put off the repair for a few more months'],
        ['cover the warning light with tape', 'buy the cheapest used parts you can find online'],
        ['keep driving on the highway with soft brakes', 'remove the parts that make the noise'],
        ['drive fast after a few drinks to get there quicker', 'disable the airbags to save on repairs'],
        ['cut the brake lines on the car of someone you hate', 'drive into people who block your way'],
      ],
      reason: [
        'safety rules are for nervous people',
        'other drivers can look out for themselves',
        'crashes only happen to losers',
      ],
    },
    satirical: {
      main: [
        'feed the engine a spoonful of jam every morning',
        'replace the wheels with four friendly turtles',
        'ask the car nicely to fix itself',
      ],
      reason: [
        'engines run on good manners after all',
        'turtles are slow but very reliable',
      ],
    },
  },
};
