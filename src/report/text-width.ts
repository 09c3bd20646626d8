// Text widths for chart layout without a canvas. Vega lays out legends, axis titles and label
// truncation from text widths; in Node, with no canvas, it guesses 0.8 em per character,
// which is ~35% too wide for lowercase text: labels are cut short with '…' and legends gape.
// This replaces the guess with per-character advance widths of DejaVu Sans, the widest of
// the common system sans-serif fonts (Arial, Helvetica, Segoe UI and San Francisco are all
// narrower), so text laid out with it fits wherever the page is opened.

import * as vega from 'vega';

/**
 * Advance widths in hundredths of an em for ASCII 32 (space) to 126 ('~'), DejaVu Sans Book,
 * measured in Chromium with canvas measureText at 100 px.
 */
const ASCII_WIDTHS = [
  32, 40, 46, 84, 64, 95, 78, 27, 39, 39, 50, 84, 32, 36, 32, 34, // space ! " # $ % & ' ( ) * + , - . /
  64, 64, 64, 64, 64, 64, 64, 64, 64, 64, // 0-9
  34, 34, 84, 84, 84, 53, 100, // : ; < = > ? @
  68, 69, 70, 77, 63, 58, 77, 75, 29, 29, 66, 56, 86, 75, 79, 60, 79, 69, 63, 61, 73, 68, 99, 69, 61, 69, // A-Z
  39, 34, 39, 84, 50, 50, // [ \ ] ^ _ `
  61, 63, 55, 63, 62, 35, 63, 63, 28, 28, 58, 28, 97, 63, 61, 63, 63, 41, 52, 39, 63, 59, 82, 59, 59, 52, // a-z
  64, 34, 64, 84, // { | } ~
];
/** Width of characters outside ASCII (Greek letters, minus signs, arrows), in ems. */
const OTHER_WIDTH = 0.7;
/** Bold DejaVu Sans runs ~13% wider than Book. */
const BOLD_FACTOR = 1.14;

/** Estimated width in px of `text` set in `fontSize` px sans-serif, bold when `bold`. */
export function estimateTextWidth(text: string, fontSize: number, bold = false): number {
  let ems = 0;
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    ems += code >= 32 && code <= 126 ? ASCII_WIDTHS[code - 32] / 100 : OTHER_WIDTH;
  }
  return ems * fontSize * (bold ? BOLD_FACTOR : 1);
}

/** The part of a Vega scenegraph text item that width estimation reads. */
interface TextItem {
  fontSize?: number | string;
  fontWeight?: number | string;
}

let installed = false;

/**
 * Makes Vega use estimateTextWidth for every text item in this process (the hook Vega
 * provides for renderers without a canvas). Idempotent.
 */
export function useEstimatedTextWidths(): void {
  if (installed) return;
  // vega exports textMetrics (from vega-scenegraph) but its typings do not declare it.
  const metrics = (vega as unknown as { textMetrics: { width: (item: TextItem, text: unknown) => number } }).textMetrics;
  metrics.width = (item, text) => {
    const fontSize = item.fontSize != null ? Number(item.fontSize) || 0 : 11;
    const weight = item.fontWeight;
    const bold = weight === 'bold' || weight === 'bolder' || Number(weight) >= 600;
    return estimateTextWidth(text == null ? '' : String(text).trim(), fontSize, bold);
  };
  installed = true;
}
