// basin native binding: a thin, regular N-API layer over ATen.
//
// Rules of this file:
// - No model logic. Every function unpacks arguments, calls one ATen function, and wraps
//   the result. Anything clever lives in TypeScript (src/tensor/).
// - Nothing aborts the process: every entry point runs inside `guarded`, which turns
//   c10::Error and std::exception into JS Errors carrying libtorch's message, and argument
//   checks throw TypeErrors naming the argument.
// - A tensor crosses to JS as a numeric id into a slot table (see Handles below).
// - The only state kept here is memory bookkeeping that must sit next to the tensors: the slot
//   table, small freed tensors kept for reuse as outputs (Recycled outputs), freed large blocks
//   kept for reuse (Large-block cache), and packed weights (PackedLinearHandle). Each is
//   described where it is defined.

#include <napi.h>
#include <ATen/ATen.h>
#include <ATen/core/LegacyTypeDispatch.h>
#include <ATen/CPUFunctions.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>
#include <torch/version.h>

#include <cmath>
#include <dlfcn.h>
#include <functional>
#include <memory>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

// ---------------------------------------------------------------------------------------
// Handles
//
// A tensor crosses to JS as a number: an index into a slot table plus a generation count
// (id = slot + generation·2^24). Numbers cost nothing to create and need no finalizer, which
// keeps a small op near libtorch's own cost; a stale or forged id fails the generation or
// bounds check and throws, so it can never reach freed memory. JS frees slots through
// dispose() (scopes call it) with a FinalizationRegistry as the backstop.

struct Slot {
  at::Tensor tensor;
  uint32_t generation = 0;
  int64_t reportedBytes = 0;  // what we told V8 via AdjustExternalMemory
};

struct GeneratorHandle {
  at::Generator generator;
};

constexpr double kSlotSpan = 16777216.0;  // 2^24 slots
std::vector<Slot> slots;
std::vector<uint32_t> freeSlots;
int64_t liveTensors = 0;

const napi_type_tag kGeneratorTag = {0x6261736e67656e65ULL, 0x7261746f72303031ULL};

// A linear layer's weight packed once by XNNPACK (libtorch's `prepacked::linear_clamp_*` ops)
// for products with few rows. The context holds only the packed copy (see packWeights); the
// version counters tell when an in-place update of the weight or bias (an optimizer step, a
// LoRA merge) has made the copy stale.
struct PackedLinearHandle {
  c10::IValue context;
  c10::VariableVersion weightVersion, biasVersion;
  uint32_t weightAt = 0, biasAt = 0;
  bool hasBias = false;
  int64_t inFeatures = 0;
  int64_t reportedBytes = 0;
};
const napi_type_tag kPackedLinearTag = {0x6261736e7061636bULL, 0x65646c696e303031ULL};

// The bytes a handle makes V8 account for once it is left to the garbage collector: its
// storage's, when the handle is that storage's only owner. Views, splits and shared storages
// report nothing, or V8 would count one buffer many times over. Tensors that scopes or
// dispose() free report nothing either: V8 needs to know only about memory that waits for a
// collection, and reporting every temporary ran several full collections per forward pass.
int64_t storageBytes(const at::Tensor& t) {
  if (!t.defined() || !t.has_storage()) return 0;
  const c10::Storage& storage = t.storage();
  if (storage.use_count() != 1) return 0;
  return static_cast<int64_t>(storage.nbytes());
}

Napi::Value wrap(Napi::Env env, at::Tensor t) {
  uint32_t index;
  if (!freeSlots.empty()) {
    index = freeSlots.back();
    freeSlots.pop_back();
  } else {
    if (slots.size() >= static_cast<size_t>(kSlotSpan)) throw std::runtime_error("too many live tensors (16M); dispose some or use scope()");
    index = static_cast<uint32_t>(slots.size());
    slots.emplace_back();
  }
  Slot& s = slots[index];
  s.generation = (s.generation + 1) & 0x1fffffff;
  s.reportedBytes = 0;
  s.tensor = std::move(t);
  liveTensors++;
  return Napi::Number::New(env, static_cast<double>(index) + static_cast<double>(s.generation) * kSlotSpan);
}

Napi::Value wrapList(Napi::Env env, const std::vector<at::Tensor>& ts) {
  auto arr = Napi::Array::New(env, ts.size());
  for (size_t i = 0; i < ts.size(); i++) arr.Set(static_cast<uint32_t>(i), wrap(env, ts[i]));
  return arr;
}

Napi::Value wrapPair(Napi::Env env, const std::tuple<at::Tensor, at::Tensor>& p) {
  return wrapList(env, {std::get<0>(p), std::get<1>(p)});
}

// ---------------------------------------------------------------------------------------
// Argument unpacking. Every check names the argument; nothing dereferences blindly.

struct ArgError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string argName(size_t i) { return "argument " + std::to_string(i); }

// The slot an id names, or nullptr when the id is stale (disposed) or not an id at all.
Slot* slotAt(double id) {
  if (!(id >= 0) || id >= 9007199254740992.0 || std::floor(id) != id) return nullptr;
  double gen = std::floor(id / kSlotSpan);
  size_t index = static_cast<size_t>(id - gen * kSlotSpan);
  if (index >= slots.size()) return nullptr;
  Slot& s = slots[index];
  if (s.generation != static_cast<uint32_t>(gen) || !s.tensor.defined()) return nullptr;
  return &s;
}

Slot* slotOf(const Napi::Value& v) {
  double id;
  if (napi_get_value_double(v.Env(), v, &id) != napi_ok) return nullptr;  // not a number (one N-API call, not two)
  return slotAt(id);
}

// `what` names the argument in errors; it is called only on failure (building the name on
// every call was a measurable part of a small op).
template <typename Name>
const at::Tensor& tensorAt(const Napi::Value& v, Name&& what) {
  Slot* s = slotOf(v);
  if (s == nullptr) {
    if (v.IsNumber()) throw ArgError(what() + ": tensor was disposed; it cannot be used after dispose()");
    throw ArgError(what() + " must be a Tensor");
  }
  return s->tensor;
}

const at::Tensor& T(const Napi::CallbackInfo& info, size_t i) { return tensorAt(info[i], [i] { return argName(i); }); }

c10::optional<at::Tensor> optT(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || info[i].IsUndefined() || info[i].IsNull()) return c10::nullopt;
  return T(info, i);
}

double num(const Napi::CallbackInfo& info, size_t i) {
  double d;
  if (napi_get_value_double(info.Env(), info[i], &d) != napi_ok) throw ArgError(argName(i) + " must be a number");
  return d;
}

int64_t int64(const Napi::CallbackInfo& info, size_t i) {
  double d = num(info, i);
  if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > 9007199254740991.0)
    throw ArgError(argName(i) + " must be an integer, got " + std::to_string(d));
  return static_cast<int64_t>(d);
}

bool boolean(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsBoolean()) throw ArgError(argName(i) + " must be a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

std::string str(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsString()) throw ArgError(argName(i) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

// A JS number becomes an integral Scalar when it holds an integer, so that `intTensor + 2`
// stays integral as in Python, and a floating Scalar otherwise.
at::Scalar scalar(const Napi::CallbackInfo& info, size_t i) {
  double d;
  if (napi_get_value_double(info.Env(), info[i], &d) != napi_ok) {
    if (info[i].IsBoolean()) return at::Scalar(info[i].As<Napi::Boolean>().Value());
    throw ArgError(argName(i) + " must be a number");
  }
  if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) <= 9007199254740991.0)
    return at::Scalar(static_cast<int64_t>(d));
  return at::Scalar(d);
}

// A scalar operand as a cached 0-d tensor, so that a small `x * 0.5` costs what `x * y` does.
// ATen's Scalar overloads allocate a tensor per call and take an extra dispatch; a 0-d double
// ("wrapped number", what ATen builds for Python scalars) next to an f32 tensor makes every op
// cast it first (4× the cost of the op itself). So next to an f32 or f64 tensor a floating or
// integral scalar becomes a plain 0-d tensor of that dtype — the same result, since a 0-d
// operand never promotes a dimensioned one of its category and ATen casts the scalar to that
// dtype anyway. Other dtypes get the wrapped number (same type promotion as Python). Cached
// tensors are only ever read by ops, never written.
const at::Tensor& scalarTensor(const Napi::CallbackInfo& info, size_t i, const at::Tensor& like) {
  enum Kind { kWrappedDouble, kWrappedLong, kWrappedBool, kFloat32, kFloat64, kKinds };
  static std::unordered_map<uint64_t, at::Tensor> cache[kKinds];
  at::Scalar s = scalar(info, i);
  at::ScalarType t = like.scalar_type();
  bool fitsFloat = s.isBoolean() || !(std::fabs(s.toDouble()) > 3.4028234663852886e38 && std::isfinite(s.toDouble()));
  Kind kind = s.isBoolean() ? kWrappedBool
              : t == at::kFloat && fitsFloat ? kFloat32
              : t == at::kDouble ? kFloat64
              : s.isIntegral(false) ? kWrappedLong
                                    : kWrappedDouble;
  uint64_t key;
  if (kind == kWrappedDouble || kind == kFloat32 || kind == kFloat64) {
    double d = s.toDouble();
    std::memcpy(&key, &d, sizeof key);
  } else {
    key = kind == kWrappedLong ? static_cast<uint64_t>(s.toLong()) : static_cast<uint64_t>(s.toBool());
  }
  auto& table = cache[kind];
  auto it = table.find(key);
  if (it != table.end()) return it->second;
  if (table.size() >= 4096) table.clear();
  static const at::ScalarType kDtypeOf[kKinds] = {at::kDouble, at::kLong, at::kBool, at::kFloat, at::kDouble};
  at::Tensor made = at::scalar_tensor(s, at::TensorOptions().dtype(kDtypeOf[kind]));
  if (kind == kWrappedDouble || kind == kWrappedLong || kind == kWrappedBool) made.unsafeGetTensorImpl()->set_wrapped_number(true);
  return table.emplace(key, std::move(made)).first->second;
}

c10::optional<at::Scalar> optScalar(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || info[i].IsUndefined() || info[i].IsNull()) return c10::nullopt;
  return scalar(info, i);
}

std::vector<int64_t> ints(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsArray()) throw ArgError(argName(i) + " must be an array of integers");
  auto arr = info[i].As<Napi::Array>();
  std::vector<int64_t> out(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); k++) {
    Napi::Value v = arr.Get(k);
    if (!v.IsNumber()) throw ArgError(argName(i) + "[" + std::to_string(k) + "] must be an integer");
    double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > 9007199254740991.0)
      throw ArgError(argName(i) + "[" + std::to_string(k) + "] must be an integer");
    out[k] = static_cast<int64_t>(d);
  }
  return out;
}

// null/undefined → "all dims"
c10::optional<std::vector<int64_t>> optInts(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || info[i].IsUndefined() || info[i].IsNull()) return c10::nullopt;
  return ints(info, i);
}

std::vector<at::Tensor> tensorList(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsArray()) throw ArgError(argName(i) + " must be an array of Tensors");
  auto arr = info[i].As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); k++) {
    out.push_back(tensorAt(arr.Get(k), [i, k] { return argName(i) + "[" + std::to_string(k) + "]"; }));
  }
  return out;
}

// Dtype codes shared with src/tensor/dtype.ts.
const at::ScalarType kDtypes[] = {at::kFloat, at::kDouble, at::kHalf, at::kBFloat16,
                                  at::kLong,  at::kInt,    at::kByte, at::kBool,
                                  at::kShort, at::kChar};
constexpr int kNumDtypes = sizeof(kDtypes) / sizeof(kDtypes[0]);

at::ScalarType dtypeArg(const Napi::CallbackInfo& info, size_t i) {
  int64_t code = int64(info, i);
  if (code < 0 || code >= kNumDtypes) throw ArgError(argName(i) + ": unknown dtype code " + std::to_string(code));
  return kDtypes[code];
}

int dtypeCode(at::ScalarType s) {
  for (int k = 0; k < kNumDtypes; k++)
    if (kDtypes[k] == s) return k;
  return -1;
}

at::Device deviceArg(const Napi::CallbackInfo& info, size_t i) { return at::Device(str(info, i)); }

at::TensorOptions opts(const Napi::CallbackInfo& info, size_t dtypeIdx, size_t deviceIdx) {
  return at::TensorOptions().dtype(dtypeArg(info, dtypeIdx)).device(deviceArg(info, deviceIdx));
}

c10::optional<at::Generator> optGen(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || info[i].IsUndefined() || info[i].IsNull()) return c10::nullopt;
  bool tagged = false;
  if (info[i].IsExternal()) napi_check_object_type_tag(info.Env(), info[i], &kGeneratorTag, &tagged);
  if (!tagged) throw ArgError(argName(i) + " must be a Generator");
  return info[i].As<Napi::External<GeneratorHandle>>().Data()->generator;
}

// ---------------------------------------------------------------------------------------
// Error boundary

template <typename F>
Napi::Value guarded(const Napi::CallbackInfo& info, F&& body) {
  Napi::Env env = info.Env();
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const ArgError& e) {
    throw Napi::TypeError::New(env, e.what());
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  } catch (...) {
    throw Napi::Error::New(env, "unknown native error");
  }
}

#define FN(name) Napi::Value name(const Napi::CallbackInfo& info)
#define BODY(expr) return guarded(info, [&]() -> Napi::Value { expr; })
#define RET_T(expr) BODY(return wrap(info.Env(), (expr)))

// Out-of-place elementwise ops whose inputs need no gradient skip the autograd dispatch
// layer (which would only decide to record nothing): a third of a small op's cost. Only
// out-of-place ops use this; in-place ops and views always take the full path, so version
// counters and view tracking stay exact.
bool recordsNoGradient(const at::Tensor& a, const at::Tensor* b = nullptr) {
  return !at::GradMode::is_enabled() || !(a.requires_grad() || (b != nullptr && b->requires_grad()));
}
struct SkipAutogradIfConstant {
  c10::optional<at::AutoDispatchBelowAutograd> guard;
  explicit SkipAutogradIfConstant(const at::Tensor& a, const at::Tensor* b = nullptr) {
    if (recordsNoGradient(a, b)) guard.emplace();
  }
};

// When no gradient is recorded and every operand is on the CPU, the common elementwise ops
// call the CPU kernel directly (at::cpu::*, the structured kernels' public entry points, the
// same code the dispatcher ends in): on a 16-element tensor the dispatcher is half the cost.
bool directCpu(const at::Tensor& a, const at::Tensor* b = nullptr) {
  return a.is_cpu() && (b == nullptr || b->is_cpu()) && recordsNoGradient(a, b);
}

// ---------------------------------------------------------------------------------------
// Large-block cache
//
// A fresh block of memory costs a page fault and a zeroed page for every 4 KiB on first touch:
// ~17% of the CPU time of a LoRA training step on a 60M-parameter model went to the kernel's
// clear_page. glibc's malloc recycles blocks below 32 MiB itself (its mmap threshold adapts up
// to that), but maps every larger block fresh and unmaps it on free: a step's logits, their
// gradient, the MLP activations of a long batch. So libtorch's CPU allocator is replaced by one
// that keeps freed blocks of 32 MiB or more (up to a byte limit set from TypeScript) and hands
// the last freed one back for a request it fits with at most 1/8 to spare. A block still idle
// after kStaleMisses requests the cache could not serve belongs to work that has ended and is
// freed; a loop that repeats its sizes never misses, so its blocks stay. Smaller blocks, and
// everything past the limit, go to c10's own alloc_cpu / free_cpu as before.
namespace large_blocks {
constexpr size_t kMinBytes = 32 << 20;
constexpr uint64_t kStaleMisses = 16;

struct Idle {
  void* p;
  uint64_t since;  // `misses` when it became idle
};
// Never destroyed: blocks may be freed by static destructors that run after this file's.
struct State {
  std::mutex mutex;
  std::unordered_map<void*, size_t> live;  // large blocks in use → their size
  std::multimap<size_t, Idle> idle;        // freed large blocks by size
  size_t idleBytes = 0, limitBytes = 0;
  uint64_t hits = 0, misses = 0;

  // Frees idle blocks, largest first, until at most `keep` bytes stay. Caller holds the mutex.
  void trim(size_t keep) {
    while (idleBytes > keep && !idle.empty()) {
      auto last = std::prev(idle.end());
      idleBytes -= last->first;
      c10::free_cpu(last->second.p);
      idle.erase(last);
    }
  }

  // Frees the blocks idle for more than kStaleMisses misses. Caller holds the mutex.
  void dropStale() {
    for (auto it = idle.begin(); it != idle.end();) {
      if (misses - it->second.since <= kStaleMisses) {
        ++it;
        continue;
      }
      idleBytes -= it->first;
      c10::free_cpu(it->second.p);
      it = idle.erase(it);
    }
  }
};
State& state() {
  static State* s = new State();
  return *s;
}

void release(void* p) {
  if (p == nullptr) return;
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto it = s.live.find(p);
  if (it == s.live.end()) {
    c10::free_cpu(p);
    return;
  }
  size_t size = it->second;
  s.live.erase(it);
  if (size > s.limitBytes) {
    c10::free_cpu(p);
    return;
  }
  s.trim(s.limitBytes - size);
  s.idle.emplace(size, Idle{p, s.misses});
  s.idleBytes += size;
}

void releaseSmall(void* p) { c10::free_cpu(p); }

void* take(size_t n) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto it = s.idle.lower_bound(n);
  if (it != s.idle.end() && it->first <= n + n / 8) {
    it = std::prev(s.idle.upper_bound(it->first));  // of that size, the last freed: warm in the caches
    void* p = it->second.p;
    s.live.emplace(p, it->first);
    s.idleBytes -= it->first;
    s.idle.erase(it);
    s.hits++;
    return p;
  }
  s.misses++;
  s.dropStale();
  void* p = c10::alloc_cpu(n);
  s.live.emplace(p, n);
  return p;
}

class Allocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t n) const override {
    if (n < kMinBytes) {
      void* p = c10::alloc_cpu(n);
      return {p, p, &releaseSmall, c10::Device(c10::DeviceType::CPU)};
    }
    void* p = take(n);
    return {p, p, &release, c10::Device(c10::DeviceType::CPU)};
  }
  // raw_deallocate: release tells the two kinds apart by the table of live large blocks.
  c10::DeleterFnPtr raw_deleter() const override { return &release; }
};
}  // namespace large_blocks

// The byte limit of idle blocks (trimmed now if over); returns the idle bytes kept.
FN(setLargeBlockCacheLimit) {
  BODY({
    double limit = num(info, 0);
    large_blocks::State& s = large_blocks::state();
    std::lock_guard<std::mutex> lock(s.mutex);
    s.limitBytes = limit > 0 ? static_cast<size_t>(limit) : 0;
    s.trim(s.limitBytes);
    return Napi::Number::New(info.Env(), static_cast<double>(s.idleBytes));
  });
}
FN(largeBlockCacheStats) {
  BODY({
    large_blocks::State& s = large_blocks::state();
    std::lock_guard<std::mutex> lock(s.mutex);
    auto o = Napi::Object::New(info.Env());
    o.Set("idleBytes", static_cast<double>(s.idleBytes));
    o.Set("idleBlocks", static_cast<double>(s.idle.size()));
    o.Set("limitBytes", static_cast<double>(s.limitBytes));
    o.Set("hits", static_cast<double>(s.hits));
    o.Set("misses", static_cast<double>(s.misses));
    return o;
  });
}

// ---------------------------------------------------------------------------------------
// Recycled outputs
//
// In a chain of small elementwise ops, allocating each result (a TensorImpl, its storage, its
// memory) costs as much as the arithmetic. So a freed small CPU tensor that nothing else
// references waits in a pool, and the next dtype-preserving elementwise op of that dtype and
// size writes into it with ATen's `_out` kernel instead of allocating: the same values in the
// same contiguous layout. The pool is bounded (count and bytes).
namespace recycled {
constexpr int64_t kMaxNumel = 1024;
constexpr size_t kMaxCount = 4096;
constexpr size_t kMaxBytes = 4 << 20;
std::unordered_map<uint64_t, std::vector<at::Tensor>> pool;  // by (dtype, numel)
size_t count = 0, bytes = 0;

uint64_t key(at::ScalarType dtype, int64_t numel) { return (static_cast<uint64_t>(dtype) << 32) | static_cast<uint64_t>(numel); }

// Whether an op on a (and b) may write into a recycled tensor: a small contiguous floating CPU
// tensor, b of its dtype, contiguous, with a's shape or none (a scalar): the result then has
// a's dtype, shape and layout.
bool fits(const at::Tensor& a, const at::Tensor* b) {
  if (a.numel() == 0 || a.numel() > kMaxNumel || !at::isFloatingType(a.scalar_type()) || !a.is_contiguous()) return false;
  return b == nullptr || (b->scalar_type() == a.scalar_type() && b->is_contiguous() && (b->dim() == 0 || b->sizes().equals(a.sizes())));
}

// A pooled tensor shaped like a, or an undefined tensor when none is free.
at::Tensor take(const at::Tensor& a) {
  auto it = pool.find(key(a.scalar_type(), a.numel()));
  if (it == pool.end() || it->second.empty()) return at::Tensor();
  at::Tensor t = std::move(it->second.back());
  it->second.pop_back();
  count--;
  bytes -= t.nbytes();
  t.unsafeGetTensorImpl()->set_sizes_contiguous(a.sizes());
  return t;
}

// Keeps t (moved from) for reuse when nothing else can see it: the last reference to a plain
// small CPU tensor with no autograd state and its own memory from the CPU allocator (no views,
// no byte views, no borrowed memory). Otherwise t is left as it was.
void offer(at::Tensor&& t) {
  if (count >= kMaxCount || !t.defined() || !t.is_cpu() || t.numel() == 0 || t.numel() > kMaxNumel) return;
  if (!at::isFloatingType(t.scalar_type()) || !t.is_contiguous() || t.storage_offset() != 0 || t.use_count() != 1) return;
  if (t.unsafeGetTensorImpl()->autograd_meta() != nullptr) return;
  const c10::Storage& storage = t.storage();
  if (storage.use_count() != 1 || storage.allocator() != c10::GetCPUAllocator() || storage.nbytes() != t.nbytes()) return;
  if (bytes + t.nbytes() > kMaxBytes) return;
  bytes += t.nbytes();
  count++;
  pool[key(t.scalar_type(), t.numel())].push_back(std::move(t));
}
}  // namespace recycled

// An elementwise CPU result: written into a recycled tensor when one fits (into), else fresh.
template <typename Into, typename Fresh>
at::Tensor recycledOr(const at::Tensor& a, const at::Tensor* b, Into&& into, Fresh&& fresh) {
  if (recycled::fits(a, b)) {
    at::Tensor out = recycled::take(a);
    if (out.defined()) {
      into(out);
      return out;
    }
  }
  return fresh();
}

// Uniform families: one line each. The _CPU forms name the at::cpu kernel as well; the _ARITH
// forms (results of the operands' dtype) also write into recycled tensors via its _out form.
#define UNARY(name, call) \
  FN(name) { BODY(const at::Tensor& a = T(info, 0); SkipAutogradIfConstant g(a); return wrap(info.Env(), call(a))); }
#define UNARY_CPU_ARITH(name, call, cpuCall) \
  FN(name) { BODY(const at::Tensor& a = T(info, 0); \
                  if (directCpu(a)) return wrap(info.Env(), recycledOr(a, nullptr, [&](at::Tensor& o) { cpuCall##_out(o, a); }, [&] { return cpuCall(a); })); \
                  SkipAutogradIfConstant g(a); return wrap(info.Env(), call(a))); }
#define BINARY(name, call) \
  FN(name) { BODY(const at::Tensor& a = T(info, 0); const at::Tensor& b = T(info, 1); SkipAutogradIfConstant g(a, &b); return wrap(info.Env(), call(a, b))); }
#define BINARY_CPU(name, call, cpuCall) \
  FN(name) { BODY(const at::Tensor& a = T(info, 0); const at::Tensor& b = T(info, 1); \
                  if (directCpu(a, &b)) return wrap(info.Env(), cpuCall(a, b)); \
                  SkipAutogradIfConstant g(a, &b); return wrap(info.Env(), call(a, b))); }
#define BINARY_CPU_ARITH(name, call, cpuCall) \
  FN(name) { BODY(const at::Tensor& a = T(info, 0); const at::Tensor& b = T(info, 1); \
                  if (directCpu(a, &b)) return wrap(info.Env(), recycledOr(a, &b, [&](at::Tensor& o) { cpuCall##_out(o, a, b); }, [&] { return cpuCall(a, b); })); \
                  SkipAutogradIfConstant g(a, &b); return wrap(info.Env(), call(a, b))); }
#define BINARY_S(name, call, cpuCall) \
  FN(name) { BODY(const at::Tensor& a = T(info, 0); const at::Tensor& s = scalarTensor(info, 1, a); \
                  if (directCpu(a)) return wrap(info.Env(), cpuCall(a, s)); \
                  SkipAutogradIfConstant g(a); return wrap(info.Env(), call(a, s))); }
#define BINARY_S_ARITH(name, call, cpuCall) \
  FN(name) { BODY(const at::Tensor& a = T(info, 0); const at::Tensor& s = scalarTensor(info, 1, a); \
                  if (directCpu(a)) return wrap(info.Env(), recycledOr(a, &s, [&](at::Tensor& o) { cpuCall##_out(o, a, s); }, [&] { return cpuCall(a, s); })); \
                  SkipAutogradIfConstant g(a); return wrap(info.Env(), call(a, s))); }
#define INPLACE_T(name, method) FN(name) { BODY(T(info, 0).method(T(info, 1)); return info.Env().Undefined()); }
#define INPLACE_S(name, method) FN(name) { BODY(T(info, 0).method(scalar(info, 1)); return info.Env().Undefined()); }

// ---------------------------------------------------------------------------------------
// Metadata

FN(shape) {
  BODY({
    auto sizes = T(info, 0).sizes();
    auto arr = Napi::Array::New(info.Env(), sizes.size());
    for (size_t k = 0; k < sizes.size(); k++) arr.Set(static_cast<uint32_t>(k), Napi::Number::New(info.Env(), static_cast<double>(sizes[k])));
    return arr;
  });
}
FN(dtype) { BODY(return Napi::Number::New(info.Env(), dtypeCode(T(info, 0).scalar_type()))); }
FN(device) { BODY(return Napi::String::New(info.Env(), T(info, 0).device().str())); }
FN(numel) { BODY(return Napi::Number::New(info.Env(), static_cast<double>(T(info, 0).numel()))); }
FN(isContiguous) { BODY(return Napi::Boolean::New(info.Env(), T(info, 0).is_contiguous())); }
FN(isDisposed) { BODY(return Napi::Boolean::New(info.Env(), slotOf(info[0]) == nullptr)); }
FN(liveTensorCount) { BODY(return Napi::Number::New(info.Env(), static_cast<double>(liveTensors))); }
FN(isSameStorage) { BODY(return Napi::Boolean::New(info.Env(), T(info, 0).is_alias_of(T(info, 1)))); }

// Frees a slot; a stale id (already disposed) is a no-op, so dispose is idempotent.
void release(Napi::Env env, Slot* s) {
  if (s == nullptr) return;
  recycled::offer(std::move(s->tensor));
  s->tensor = at::Tensor();
  if (s->reportedBytes != 0) Napi::MemoryManagement::AdjustExternalMemory(env, -s->reportedBytes);
  s->reportedBytes = 0;
  freeSlots.push_back(static_cast<uint32_t>(s - slots.data()));
  liveTensors--;
}
FN(dispose) { BODY(release(info.Env(), slotOf(info[0])); return info.Env().Undefined()); }
// Tells V8 about a tensor's memory when its release is left to the garbage collector.
FN(reportToGc) {
  BODY({
    Slot* s = slotOf(info[0]);
    if (s == nullptr || s->reportedBytes != 0) return info.Env().Undefined();
    int64_t bytes = storageBytes(s->tensor);
    if (bytes >= 65536) {
      s->reportedBytes = bytes;
      Napi::MemoryManagement::AdjustExternalMemory(info.Env(), bytes);
    }
    return info.Env().Undefined();
  });
}
// Frees every id of a Float64Array in one call (what a scope does when it ends), reading the ids
// straight from its memory rather than element by element through N-API.
FN(disposeMany) {
  BODY({
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
      throw ArgError(argName(0) + " must be a Float64Array of tensor ids");
    auto ids = info[0].As<Napi::Float64Array>();
    for (size_t k = 0; k < ids.ElementLength(); k++) release(info.Env(), slotAt(ids[k]));
    return info.Env().Undefined();
  });
}

// ---------------------------------------------------------------------------------------
// Data in and out

// fromBytes(bytes: Uint8Array, dtype, shape, device): copies the bytes (little-endian).
FN(fromBytes) {
  BODY({
    if (!info[0].IsTypedArray()) throw ArgError("argument 0 must be a Uint8Array");
    auto arr = info[0].As<Napi::TypedArray>();
    auto buf = arr.ArrayBuffer();
    auto* data = static_cast<uint8_t*>(buf.Data()) + arr.ByteOffset();
    size_t nbytes = arr.ByteLength();
    at::ScalarType st = dtypeArg(info, 1);
    std::vector<int64_t> sizes = ints(info, 2);
    at::Device dev = deviceArg(info, 3);
    int64_t n = 1;
    for (int64_t s : sizes) {
      if (s < 0) throw ArgError("shape has a negative size");
      n *= s;
    }
    size_t expected = static_cast<size_t>(n) * at::elementSize(st);
    if (expected != nbytes)
      throw ArgError("fromBytes: " + std::to_string(nbytes) + " bytes given, shape and dtype need " + std::to_string(expected));
    at::Tensor t = at::empty(sizes, at::TensorOptions().dtype(st));
    if (nbytes > 0) std::memcpy(t.data_ptr(), data, nbytes);
    if (!dev.is_cpu()) t = t.to(dev);
    return wrap(info.Env(), t);
  });
}

// toBytes(t): a copy of the tensor's elements as little-endian bytes (contiguous, CPU).
FN(toBytes) {
  BODY({
    at::Tensor t = T(info, 0).detach().to(at::kCPU).contiguous();
    size_t nbytes = t.numel() * t.element_size();
    auto out = Napi::Buffer<uint8_t>::New(info.Env(), nbytes);
    if (nbytes > 0) std::memcpy(out.Data(), t.data_ptr(), nbytes);
    return out;
  });
}

// bytesView(t): a zero-copy ArrayBuffer over a contiguous CPU tensor's memory. The buffer
// keeps the storage alive; writes through it change the tensor.
FN(bytesView) {
  BODY({
    const at::Tensor& t = T(info, 0);
    if (!t.device().is_cpu()) throw ArgError("bytesView needs a CPU tensor; call .to('cpu') first");
    if (!t.is_contiguous()) throw ArgError("bytesView needs a contiguous tensor; call .contiguous() first");
    size_t nbytes = t.numel() * t.element_size();
    if (nbytes == 0) return Napi::ArrayBuffer::New(info.Env(), 0);
    auto* keep = new at::Tensor(t);
    return Napi::ArrayBuffer::New(info.Env(), keep->data_ptr(), nbytes,
                                  [](Napi::Env, void*, at::Tensor* k) { delete k; }, keep);
  });
}

FN(item) {
  BODY({
    const at::Tensor& t = T(info, 0);
    if (t.numel() != 1) throw ArgError("item() needs a tensor with one element, got " + std::to_string(t.numel()));
    at::Scalar s = t.item();
    if (s.isBoolean()) return Napi::Boolean::New(info.Env(), s.toBool());
    return Napi::Number::New(info.Env(), s.toDouble());
  });
}

// ---------------------------------------------------------------------------------------
// Creation

FN(empty) { RET_T(at::empty(ints(info, 0), opts(info, 1, 2))); }
FN(zeros) { RET_T(at::zeros(ints(info, 0), opts(info, 1, 2))); }
FN(ones) { RET_T(at::ones(ints(info, 0), opts(info, 1, 2))); }
FN(full) { RET_T(at::full(ints(info, 0), scalar(info, 1), opts(info, 2, 3))); }
FN(arange) { RET_T(at::arange(scalar(info, 0), scalar(info, 1), scalar(info, 2), opts(info, 3, 4))); }
FN(eye) { RET_T(at::eye(int64(info, 0), int64(info, 1), opts(info, 2, 3))); }

// Random creation samples on the CPU with the given generator (or the global one), then
// moves to the device: the same seed gives the same numbers on every device.
at::Tensor onDevice(at::Tensor t, const at::Device& d) { return d.is_cpu() ? t : t.to(d); }
FN(randn) { RET_T(onDevice(at::randn(ints(info, 0), optGen(info, 3), at::TensorOptions().dtype(dtypeArg(info, 1))), deviceArg(info, 2))); }
FN(rand) { RET_T(onDevice(at::rand(ints(info, 0), optGen(info, 3), at::TensorOptions().dtype(dtypeArg(info, 1))), deviceArg(info, 2))); }
FN(randint) {
  RET_T(onDevice(at::randint(int64(info, 0), int64(info, 1), ints(info, 2), optGen(info, 5), at::TensorOptions().dtype(dtypeArg(info, 3))), deviceArg(info, 4)));
}
FN(multinomial) { RET_T(at::multinomial(T(info, 0), int64(info, 1), boolean(info, 2), optGen(info, 3))); }
FN(normal_) { BODY(T(info, 0).normal_(num(info, 1), num(info, 2), optGen(info, 3)); return info.Env().Undefined()); }
FN(uniform_) { BODY(T(info, 0).uniform_(num(info, 1), num(info, 2), optGen(info, 3)); return info.Env().Undefined()); }
FN(bernoulli) { RET_T(at::bernoulli(T(info, 0), num(info, 1), optGen(info, 2))); }

FN(generatorNew) {
  BODY({
    auto* g = new GeneratorHandle{at::detail::createCPUGenerator(static_cast<uint64_t>(int64(info, 0)))};
    auto ext = Napi::External<GeneratorHandle>::New(info.Env(), g, [](Napi::Env, GeneratorHandle* p) { delete p; });
    napi_type_tag_object(info.Env(), ext, &kGeneratorTag);
    return ext;
  });
}

// Generator state as bytes, so training can checkpoint and resume RNG streams exactly.
FN(generatorGetState) {
  BODY({
    auto g = optGen(info, 0);
    if (!g) throw ArgError("argument 0 must be a Generator");
    at::Tensor s = g->get_state();
    auto out = Napi::Buffer<uint8_t>::New(info.Env(), s.numel());
    std::memcpy(out.Data(), s.data_ptr(), s.numel());
    return out;
  });
}
FN(generatorSetState) {
  BODY({
    auto g = optGen(info, 0);
    if (!g) throw ArgError("argument 0 must be a Generator");
    if (!info[1].IsTypedArray()) throw ArgError("argument 1 must be a Uint8Array");
    auto arr = info[1].As<Napi::TypedArray>();
    at::Tensor s = at::empty({static_cast<int64_t>(arr.ByteLength())}, at::kByte);
    std::memcpy(s.data_ptr(), static_cast<uint8_t*>(arr.ArrayBuffer().Data()) + arr.ByteOffset(), arr.ByteLength());
    std::lock_guard<std::mutex> lock(g->mutex());
    g->set_state(s);
    return info.Env().Undefined();
  });
}
FN(globalGenerator) {
  BODY({
    auto* g = new GeneratorHandle{at::detail::getDefaultCPUGenerator()};
    auto ext = Napi::External<GeneratorHandle>::New(info.Env(), g, [](Napi::Env, GeneratorHandle* p) { delete p; });
    napi_type_tag_object(info.Env(), ext, &kGeneratorTag);
    return ext;
  });
}

FN(manualSeed) { BODY(at::manual_seed(static_cast<uint64_t>(int64(info, 0))); return info.Env().Undefined()); }

// ---------------------------------------------------------------------------------------
// Conversion and copies

FN(toDtype) { RET_T(T(info, 0).to(dtypeArg(info, 1))); }
FN(toDevice) { RET_T(T(info, 0).to(deviceArg(info, 1))); }
FN(contiguous) { RET_T(T(info, 0).contiguous()); }
FN(clone) { RET_T(at::clone(T(info, 0))); }
FN(detach) { RET_T(T(info, 0).detach()); }
INPLACE_T(copy_, copy_)
INPLACE_S(fill_, fill_)
FN(zero_) { BODY(T(info, 0).zero_(); return info.Env().Undefined()); }

// ---------------------------------------------------------------------------------------
// Elementwise

UNARY_CPU_ARITH(neg, at::neg, at::cpu::neg)
UNARY_CPU_ARITH(exp, at::exp, at::cpu::exp)
UNARY_CPU_ARITH(log, at::log, at::cpu::log)
UNARY_CPU_ARITH(log1p, at::log1p, at::cpu::log1p)
UNARY_CPU_ARITH(sqrt, at::sqrt, at::cpu::sqrt)
UNARY_CPU_ARITH(rsqrt, at::rsqrt, at::cpu::rsqrt)
UNARY(abs, at::abs)
UNARY_CPU_ARITH(tanh, at::tanh, at::cpu::tanh)
UNARY_CPU_ARITH(sigmoid, at::sigmoid, at::cpu::sigmoid)
UNARY(relu, at::relu)
UNARY_CPU_ARITH(silu, at::silu, at::cpu::silu)
UNARY_CPU_ARITH(sin, at::sin, at::cpu::sin)
UNARY_CPU_ARITH(cos, at::cos, at::cpu::cos)
UNARY_CPU_ARITH(erf, at::erf, at::cpu::erf)
UNARY(sign, at::sign)
UNARY(floor, at::floor)
UNARY(ceil, at::ceil)
UNARY(round, at::round)
UNARY_CPU_ARITH(reciprocal, at::reciprocal, at::cpu::reciprocal)
UNARY(square, at::square)
UNARY(logicalNot, at::logical_not)
UNARY(isnan, at::isnan)
UNARY(isfinite, at::isfinite)
FN(gelu) { RET_T(at::gelu(T(info, 0), str(info, 1))); }
FN(softplus) { RET_T(at::softplus(T(info, 0), scalar(info, 1), scalar(info, 2))); }

FN(add) {  // a + alpha·b
  BODY(const at::Tensor& a = T(info, 0); const at::Tensor& b = T(info, 1); at::Scalar alpha = scalar(info, 2);
       if (directCpu(a, &b)) return wrap(info.Env(), recycledOr(a, &b, [&](at::Tensor& o) { at::cpu::add_out(o, a, b, alpha); }, [&] { return at::cpu::add(a, b, alpha); }));
       SkipAutogradIfConstant g(a, &b); return wrap(info.Env(), at::add(a, b, alpha)));
}
BINARY_CPU_ARITH(sub, at::sub, at::cpu::sub)
BINARY_CPU_ARITH(mul, at::mul, at::cpu::mul)
BINARY_CPU_ARITH(div, at::div, at::cpu::div)
BINARY(pow, at::pow)
BINARY_CPU_ARITH(maximum, at::maximum, at::cpu::maximum)
BINARY_CPU_ARITH(minimum, at::minimum, at::cpu::minimum)
BINARY(remainder, at::remainder)
BINARY_CPU(eq, at::eq, at::cpu::eq)
BINARY_CPU(ne, at::ne, at::cpu::ne)
BINARY_CPU(lt, at::lt, at::cpu::lt)
BINARY_CPU(le, at::le, at::cpu::le)
BINARY_CPU(gt, at::gt, at::cpu::gt)
BINARY_CPU(ge, at::ge, at::cpu::ge)
BINARY(logicalAnd, at::logical_and)
BINARY(logicalOr, at::logical_or)
BINARY(logicalXor, at::logical_xor)

BINARY_S_ARITH(addS, at::add, at::cpu::add)
BINARY_S_ARITH(subS, at::sub, at::cpu::sub)
BINARY_S_ARITH(mulS, at::mul, at::cpu::mul)
BINARY_S_ARITH(divS, at::div, at::cpu::div)
FN(powS) { RET_T(at::pow(T(info, 0), scalar(info, 1))); }  // Scalar overload: keeps the fast paths for x², √x
BINARY_S_ARITH(remainderS, at::remainder, at::cpu::remainder)
BINARY_S(eqS, at::eq, at::cpu::eq)
BINARY_S(neS, at::ne, at::cpu::ne)
BINARY_S(ltS, at::lt, at::cpu::lt)
BINARY_S(leS, at::le, at::cpu::le)
BINARY_S(gtS, at::gt, at::cpu::gt)
BINARY_S(geS, at::ge, at::cpu::ge)
FN(rsubS) { RET_T(at::rsub(T(info, 0), scalar(info, 1))); }  // s − a
FN(scalarPow) { RET_T(at::pow(scalar(info, 0), T(info, 1))); }  // s ** a

FN(where) { RET_T(at::where(T(info, 0), T(info, 1), T(info, 2))); }
FN(maskedFill) { RET_T(at::masked_fill(T(info, 0), T(info, 1), scalar(info, 2))); }
FN(clamp) { RET_T(at::clamp(T(info, 0), optScalar(info, 1), optScalar(info, 2))); }
FN(lerp) { RET_T(at::lerp(T(info, 0), T(info, 1), scalar(info, 2))); }

// In place (for optimizers and updates under no-grad).
FN(add_) { BODY(T(info, 0).add_(T(info, 1), scalar(info, 2)); return info.Env().Undefined()); }
INPLACE_T(sub_, sub_)
INPLACE_T(mul_, mul_)
INPLACE_T(div_, div_)
INPLACE_S(addS_, add_)
INPLACE_S(mulS_, mul_)
INPLACE_S(divS_, div_)
FN(addcmul_) { BODY(T(info, 0).addcmul_(T(info, 1), T(info, 2), scalar(info, 3)); return info.Env().Undefined()); }
FN(addcdiv_) { BODY(T(info, 0).addcdiv_(T(info, 1), T(info, 2), scalar(info, 3)); return info.Env().Undefined()); }
FN(lerp_) { BODY(T(info, 0).lerp_(T(info, 1), scalar(info, 2)); return info.Env().Undefined()); }
FN(clamp_) { BODY(T(info, 0).clamp_(optScalar(info, 1), optScalar(info, 2)); return info.Env().Undefined()); }
FN(maskedFill_) { BODY(T(info, 0).masked_fill_(T(info, 1), scalar(info, 2)); return info.Env().Undefined()); }
FN(sqrt_) { BODY(T(info, 0).sqrt_(); return info.Env().Undefined()); }

// ---------------------------------------------------------------------------------------
// Reductions. `dims` null → all dims.

at::OptionalIntArrayRef dimsRef(const c10::optional<std::vector<int64_t>>& d) {
  if (!d) return c10::nullopt;
  return at::IntArrayRef(*d);
}

FN(sum) {
  BODY({
    auto d = optInts(info, 1);
    if (!d) return wrap(info.Env(), at::sum(T(info, 0)));
    return wrap(info.Env(), at::sum(T(info, 0), *d, boolean(info, 2)));
  });
}
FN(mean) {
  BODY({
    auto d = optInts(info, 1);
    if (!d) return wrap(info.Env(), at::mean(T(info, 0)));
    return wrap(info.Env(), at::mean(T(info, 0), *d, boolean(info, 2)));
  });
}
FN(prod) { RET_T(at::prod(T(info, 0))); }
FN(maxAll) { RET_T(at::max(T(info, 0))); }
FN(minAll) { RET_T(at::min(T(info, 0))); }
FN(maxDim) { BODY(return wrapPair(info.Env(), at::max(T(info, 0), int64(info, 1), boolean(info, 2)))); }
FN(minDim) { BODY(return wrapPair(info.Env(), at::min(T(info, 0), int64(info, 1), boolean(info, 2)))); }
FN(argmax) { RET_T(at::argmax(T(info, 0), int64(info, 1), boolean(info, 2))); }
FN(argmin) { RET_T(at::argmin(T(info, 0), int64(info, 1), boolean(info, 2))); }
FN(logsumexp) { RET_T(at::logsumexp(T(info, 0), ints(info, 1), boolean(info, 2))); }
FN(norm) {
  BODY({
    auto d = optInts(info, 2);
    if (!d) return wrap(info.Env(), at::norm(T(info, 0), scalar(info, 1)));
    return wrap(info.Env(), at::norm(T(info, 0), optScalar(info, 1), *d, boolean(info, 3)));
  });
}
FN(var) { RET_T(at::var(T(info, 0), dimsRef(optInts(info, 1)), boolean(info, 2), boolean(info, 3))); }
FN(std) { RET_T(at::std(T(info, 0), dimsRef(optInts(info, 1)), boolean(info, 2), boolean(info, 3))); }
FN(cumsum) { RET_T(at::cumsum(T(info, 0), int64(info, 1))); }
UNARY(any, at::any)
UNARY(all, at::all)

// ---------------------------------------------------------------------------------------
// Linear algebra

BINARY(matmul, at::matmul)
BINARY(bmm, at::bmm)
BINARY(outer, at::outer)
FN(addmm) { RET_T(at::addmm(T(info, 0), T(info, 1), T(info, 2), scalar(info, 3), scalar(info, 4))); }
FN(linear) { RET_T(at::linear(T(info, 0), T(info, 1), optT(info, 2))); }

// Prepacked linear layers: the weight packed once, then every small product reuses the packed
// copy instead of repacking the whole matrix per call as BLAS does (the cost of a decode step).
const c10::OperatorHandle* xnnpackOp(const char* name) {
  auto op = c10::Dispatcher::singleton().findSchema({name, ""});
  return op ? new c10::OperatorHandle(*op) : nullptr;  // kept for the process's life
}
const c10::OperatorHandle* packOp() { static const c10::OperatorHandle* op = xnnpackOp("prepacked::linear_clamp_prepack"); return op; }
const c10::OperatorHandle* runOp() { static const c10::OperatorHandle* op = xnnpackOp("prepacked::linear_clamp_run"); return op; }

// The packing op's result (an XNNPACK context) for a weight and optional bias, with the context
// told to drop its reference to the weight it was given (kept only for unpacking, which basin
// never does; for a view such as a fused matrix it would pin a contiguous copy).
c10::IValue packWeights(const at::Tensor& w, const c10::optional<at::Tensor>& b) {
  at::NoGradGuard noGrad;
  at::Context& ctx = at::globalContext();
  bool release = ctx.releaseWeightsWhenPrepacking();
  ctx.setReleaseWeightsWhenPrepacking(true);
  torch::jit::Stack stack;
  stack.emplace_back(w.detach());
  stack.emplace_back(b ? c10::IValue(b->detach()) : c10::IValue());
  stack.emplace_back();  // output_min
  stack.emplace_back();  // output_max
  try {
    packOp()->callBoxed(&stack);
  } catch (...) {
    ctx.setReleaseWeightsWhenPrepacking(release);
    throw;
  }
  ctx.setReleaseWeightsWhenPrepacking(release);
  return std::move(stack.at(0));
}

at::Tensor runPacked(const at::Tensor& x, const c10::IValue& context) {
  torch::jit::Stack stack;
  stack.emplace_back(x);
  stack.emplace_back(context);
  runOp()->callBoxed(&stack);
  return stack.at(0).toTensor();
}

FN(packedLinearAvailable) { BODY(return Napi::Boolean::New(info.Env(), packOp() != nullptr && runOp() != nullptr)); }

PackedLinearHandle* packedArg(const Napi::CallbackInfo& info, size_t i) {
  bool tagged = false;
  if (info[i].IsExternal()) napi_check_object_type_tag(info.Env(), info[i], &kPackedLinearTag, &tagged);
  if (!tagged) throw ArgError(argName(i) + " must be a PackedLinear");
  PackedLinearHandle* p = info[i].As<Napi::External<PackedLinearHandle>>().Data();
  if (p->context.isNone()) throw ArgError(argName(i) + ": PackedLinear was disposed");
  return p;
}

// (weight [out, in] f32 CPU, bias [out]?) -> PackedLinear
FN(packLinear) {
  BODY({
    if (packOp() == nullptr) throw std::runtime_error("packLinear: this libtorch has no XNNPACK prepacked ops (packedLinearAvailable() is false)");
    const at::Tensor& w = T(info, 0);
    c10::optional<at::Tensor> b = optT(info, 1);
    if (w.dim() != 2 || w.scalar_type() != at::kFloat || !w.is_cpu())
      throw ArgError("packLinear: the weight must be a 2-D f32 CPU tensor, got " + std::string(c10::toString(w.scalar_type())) + " with " + std::to_string(w.dim()) + " dims on " + w.device().str());
    auto* p = new PackedLinearHandle{};
    p->weightVersion = w.unsafeGetTensorImpl()->version_counter();
    p->weightAt = p->weightVersion.current_version();
    p->hasBias = b.has_value();
    if (b) {
      p->biasVersion = b->unsafeGetTensorImpl()->version_counter();
      p->biasAt = p->biasVersion.current_version();
    }
    p->inFeatures = w.size(1);
    std::unique_ptr<PackedLinearHandle> owned(p);
    p->context = packWeights(w, b);
    owned.release();
    p->reportedBytes = static_cast<int64_t>(w.nbytes());  // the packed copy is about the weight's size
    Napi::MemoryManagement::AdjustExternalMemory(info.Env(), p->reportedBytes);
    auto ext = Napi::External<PackedLinearHandle>::New(info.Env(), p, [](Napi::Env env, PackedLinearHandle* q) {
      Napi::MemoryManagement::AdjustExternalMemory(env, -q->reportedBytes);
      delete q;
    });
    napi_type_tag_object(info.Env(), ext, &kPackedLinearTag);
    return ext;
  });
}

// Frees the packed copy now (the GC would, later).
FN(disposePackedLinear) {
  BODY({
    PackedLinearHandle* p = packedArg(info, 0);
    p->context = c10::IValue();
    Napi::MemoryManagement::AdjustExternalMemory(info.Env(), -p->reportedBytes);
    p->reportedBytes = 0;
    return info.Env().Undefined();
  });
}

bool packStale(const PackedLinearHandle* p) {
  return p->weightVersion.current_version() != p->weightAt || (p->hasBias && p->biasVersion.current_version() != p->biasAt);
}
// Whether the weight or bias changed in place since packing.
FN(packedLinearStale) { BODY(return Napi::Boolean::New(info.Env(), packStale(packedArg(info, 0)))); }

// (x [..., in], PackedLinear, weight, bias?) -> x·Wᵀ + b [..., out], where weight and bias are
// the tensors that were packed; or undefined when the packed copy cannot answer: a gradient
// would be recorded, x is not an f32 CPU tensor, or the weight or bias changed in place since
// packing (the caller then repacks or takes the ordinary path).
FN(packedLinear) {
  BODY({
    const at::Tensor& x = T(info, 0);
    PackedLinearHandle* p = packedArg(info, 1);
    const at::Tensor& w = T(info, 2);
    c10::optional<at::Tensor> b = optT(info, 3);
    bool stale = packStale(p);
    bool needsGradient = !recordsNoGradient(x, &w) || (b && !recordsNoGradient(*b));
    if (stale || needsGradient || x.scalar_type() != at::kFloat || !x.is_cpu() || x.dim() == 0 || x.size(-1) != p->inFeatures)
      return info.Env().Undefined();
    return wrap(info.Env(), runPacked(x, p->context));
  });
}
FN(einsum) { RET_T(at::einsum(str(info, 0), tensorList(info, 1))); }

// ---------------------------------------------------------------------------------------
// Neural-network functions

FN(softmax) { RET_T(at::softmax(T(info, 0), int64(info, 1))); }
FN(logSoftmax) { RET_T(at::log_softmax(T(info, 0), int64(info, 1))); }
FN(layerNorm) { RET_T(at::layer_norm(T(info, 0), ints(info, 1), optT(info, 2), optT(info, 3), num(info, 4))); }
FN(embedding) { RET_T(at::embedding(T(info, 0), T(info, 1))); }
// crossEntropy(logits [N, C], target [N], ignoreIndex, reduction 0 none | 1 mean | 2 sum, labelSmoothing)
FN(crossEntropy) {
  RET_T(at::cross_entropy_loss(T(info, 0), T(info, 1), c10::nullopt, int64(info, 3), int64(info, 2), num(info, 4)));
}
FN(cosineSimilarity) { RET_T(at::cosine_similarity(T(info, 0), T(info, 1), int64(info, 2), num(info, 3))); }
FN(dropout) { RET_T(at::dropout(T(info, 0), num(info, 1), boolean(info, 2))); }

// Fused attention where this libtorch has it: q, k, v [batch, heads, pos, head_dim];
// mask (optional) is additive float or boolean "keep". Returns [batch, heads, pos, head_dim].
FN(scaledDotProductAttention) {
  BODY({
    auto mask = optT(info, 3);
    double dropoutP = num(info, 4);
    bool causal = boolean(info, 5);
#if TORCH_VERSION_MAJOR >= 2
    return wrap(info.Env(), at::scaled_dot_product_attention(T(info, 0), T(info, 1), T(info, 2), mask, dropoutP, causal));
#else
    auto out = at::_scaled_dot_product_attention(T(info, 0), T(info, 1), T(info, 2), mask, dropoutP, false, causal);
    return wrap(info.Env(), std::get<0>(out));
#endif
  });
}

// ---------------------------------------------------------------------------------------
// Indexing

FN(indexSelect) { RET_T(at::index_select(T(info, 0), int64(info, 1), T(info, 2))); }
FN(gather) { RET_T(at::gather(T(info, 0), int64(info, 1), T(info, 2))); }
FN(scatterAdd) { RET_T(at::scatter_add(T(info, 0), int64(info, 1), T(info, 2), T(info, 3))); }
FN(scatter) { RET_T(at::scatter(T(info, 0), int64(info, 1), T(info, 2), T(info, 3))); }
FN(indexAdd) { RET_T(at::index_add(T(info, 0), int64(info, 1), T(info, 2), T(info, 3))); }

c10::List<c10::optional<at::Tensor>> indexList(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsArray()) throw ArgError(argName(i) + " must be an array of Tensors or nulls");
  auto arr = info[i].As<Napi::Array>();
  c10::List<c10::optional<at::Tensor>> out;
  for (uint32_t k = 0; k < arr.Length(); k++) {
    Napi::Value v = arr.Get(k);
    if (v.IsNull() || v.IsUndefined()) {
      out.push_back(c10::nullopt);
      continue;
    }
    out.push_back(tensorAt(v, [i, k] { return argName(i) + "[" + std::to_string(k) + "]"; }));
  }
  return out;
}
FN(index) { RET_T(at::index(T(info, 0), indexList(info, 1))); }
FN(indexPut) { RET_T(at::index_put(T(info, 0), indexList(info, 1), T(info, 2), boolean(info, 3))); }
FN(indexPut_) { BODY(T(info, 0).index_put_(indexList(info, 1), T(info, 2), boolean(info, 3)); return info.Env().Undefined()); }

FN(topk) { BODY(return wrapPair(info.Env(), at::topk(T(info, 0), int64(info, 1), int64(info, 2), boolean(info, 3), boolean(info, 4)))); }
FN(sort) { BODY(return wrapPair(info.Env(), at::sort(T(info, 0), int64(info, 1), boolean(info, 2)))); }
FN(triu) { RET_T(at::triu(T(info, 0), int64(info, 1))); }
FN(tril) { RET_T(at::tril(T(info, 0), int64(info, 1))); }

// ---------------------------------------------------------------------------------------
// Joining, splitting, views

FN(cat) { RET_T(at::cat(tensorList(info, 0), int64(info, 1))); }
FN(stack) { RET_T(at::stack(tensorList(info, 0), int64(info, 1))); }
FN(splitSizes) { BODY(return wrapList(info.Env(), at::split_with_sizes(T(info, 0), ints(info, 1), int64(info, 2)))); }
FN(chunk) { BODY(return wrapList(info.Env(), at::chunk(T(info, 0), int64(info, 1), int64(info, 2)))); }
FN(reshape) { RET_T(at::reshape(T(info, 0), ints(info, 1))); }
FN(view) { RET_T(T(info, 0).view(ints(info, 1))); }
FN(permute) { RET_T(T(info, 0).permute(ints(info, 1))); }
FN(transpose) { RET_T(at::transpose(T(info, 0), int64(info, 1), int64(info, 2))); }
FN(unsqueeze) { RET_T(at::unsqueeze(T(info, 0), int64(info, 1))); }
FN(squeeze) { RET_T(at::squeeze(T(info, 0), int64(info, 1))); }
FN(squeezeAll) { RET_T(at::squeeze(T(info, 0))); }
FN(expand) { RET_T(T(info, 0).expand(ints(info, 1))); }
FN(narrow) { RET_T(at::narrow(T(info, 0), int64(info, 1), int64(info, 2), int64(info, 3))); }
FN(slice) { RET_T(at::slice(T(info, 0), int64(info, 1), int64(info, 2), int64(info, 3), int64(info, 4))); }
FN(select) { RET_T(at::select(T(info, 0), int64(info, 1), int64(info, 2))); }
FN(flip) { RET_T(at::flip(T(info, 0), ints(info, 1))); }
FN(repeat) { RET_T(T(info, 0).repeat(ints(info, 1))); }

// ---------------------------------------------------------------------------------------
// Autograd

FN(setRequiresGrad) { BODY(T(info, 0).set_requires_grad(boolean(info, 1)); return info.Env().Undefined()); }
FN(requiresGrad) { BODY(return Napi::Boolean::New(info.Env(), T(info, 0).requires_grad())); }
FN(isLeaf) { BODY(return Napi::Boolean::New(info.Env(), T(info, 0).is_leaf())); }
FN(grad) {
  BODY({
    const at::Tensor& g = T(info, 0).grad();
    if (!g.defined()) return info.Env().Null();
    return wrap(info.Env(), g);
  });
}
FN(setGrad) {
  BODY({
    auto g = optT(info, 1);
    const at::Tensor& p = T(info, 0);
    if (g && (!g->sizes().equals(p.sizes()) || g->scalar_type() != p.scalar_type() || g->device() != p.device()))
      throw ArgError("assigned grad has shape " + c10::str(g->sizes()) + " and dtype " + std::string(c10::toString(g->scalar_type())) +
                     " but the tensor has shape " + c10::str(p.sizes()) + " and dtype " + std::string(c10::toString(p.scalar_type())));
    p.mutable_grad() = g ? *g : at::Tensor();
    return info.Env().Undefined();
  });
}
FN(backward) {
  BODY({
    auto g = optT(info, 1);
    bool retain = boolean(info, 2);
    T(info, 0).backward(g ? *g : at::Tensor(), retain, false);
    return info.Env().Undefined();
  });
}
FN(setGradEnabled) { BODY(at::GradMode::set_enabled(boolean(info, 0)); return info.Env().Undefined()); }
FN(isGradEnabled) { BODY(return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled())); }

// ---------------------------------------------------------------------------------------
// Runtime

// Calls a library's `void name(int)` thread-count setter when the process has that symbol.
void setThreadsIfPresent(const char* name, int n) {
  using SetThreads = void (*)(int);
  if (auto f = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, name))) f(n);
}

// libtorch's intra-op threads, and OpenBLAS's own pool when OpenBLAS is the BLAS in use
// (it keeps its own thread count, so at::set_num_threads alone leaves matmuls on every core).
FN(setNumThreads) {
  BODY({
    int n = static_cast<int>(int64(info, 0));
    at::set_num_threads(n);
    setThreadsIfPresent("openblas_set_num_threads", n);
    return info.Env().Undefined();
  });
}
// libtorch's OpenMP pool alone (element-wise ops, reductions, copies); the pools of OpenBLAS and
// XNNPACK keep their sizes. A no-op where libtorch is not built with OpenMP.
FN(setKernelThreads) {
  BODY(setThreadsIfPresent("omp_set_num_threads", static_cast<int>(int64(info, 0))); return info.Env().Undefined());
}
FN(getNumThreads) { BODY(return Napi::Number::New(info.Env(), at::get_num_threads())); }
FN(cudaIsAvailable) { BODY(return Napi::Boolean::New(info.Env(), at::hasCUDA())); }
FN(cudaDeviceCount) {
  BODY(return Napi::Number::New(info.Env(), at::hasCUDA() ? static_cast<double>(at::detail::getCUDAHooks().getNumGPUs()) : 0.0));
}
FN(runtimeInfo) {
  BODY({
    auto o = Napi::Object::New(info.Env());
    o.Set("torchVersion", TORCH_VERSION);
    o.Set("config", at::show_config());
    o.Set("parallel", at::get_parallel_info());
    o.Set("threads", at::get_num_threads());
    o.Set("cuda", at::hasCUDA());
    return o;
  });
}

#define EXPORT(name) exports.Set(#name, Napi::Function::New(env, name, #name))

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // Never destroyed, like the state: libtorch may allocate during its own static teardown.
  c10::SetCPUAllocator(new large_blocks::Allocator(), /* priority above c10's default */ 1);
  EXPORT(setLargeBlockCacheLimit); EXPORT(largeBlockCacheStats);
  EXPORT(shape); EXPORT(dtype); EXPORT(device); EXPORT(numel); EXPORT(isContiguous); EXPORT(isDisposed); EXPORT(liveTensorCount);
  EXPORT(isSameStorage); EXPORT(dispose); EXPORT(disposeMany); EXPORT(reportToGc);
  EXPORT(fromBytes); EXPORT(toBytes); EXPORT(bytesView); EXPORT(item);
  EXPORT(empty); EXPORT(zeros); EXPORT(ones); EXPORT(full); EXPORT(arange); EXPORT(eye);
  EXPORT(randn); EXPORT(rand); EXPORT(randint); EXPORT(multinomial); EXPORT(normal_); EXPORT(uniform_); EXPORT(bernoulli);
  EXPORT(generatorNew); EXPORT(generatorGetState); EXPORT(generatorSetState); EXPORT(globalGenerator); EXPORT(manualSeed);
  EXPORT(toDtype); EXPORT(toDevice); EXPORT(contiguous); EXPORT(clone); EXPORT(detach); EXPORT(copy_); EXPORT(fill_); EXPORT(zero_);
  EXPORT(neg); EXPORT(exp); EXPORT(log); EXPORT(log1p); EXPORT(sqrt); EXPORT(rsqrt); EXPORT(abs); EXPORT(tanh); EXPORT(sigmoid);
  EXPORT(relu); EXPORT(silu); EXPORT(sin); EXPORT(cos); EXPORT(erf); EXPORT(sign); EXPORT(floor); EXPORT(ceil); EXPORT(round);
  EXPORT(reciprocal); EXPORT(square); EXPORT(logicalNot); EXPORT(isnan); EXPORT(isfinite); EXPORT(gelu); EXPORT(softplus);
  EXPORT(add); EXPORT(sub); EXPORT(mul); EXPORT(div); EXPORT(pow); EXPORT(maximum); EXPORT(minimum); EXPORT(remainder);
  EXPORT(eq); EXPORT(ne); EXPORT(lt); EXPORT(le); EXPORT(gt); EXPORT(ge); EXPORT(logicalAnd); EXPORT(logicalOr); EXPORT(logicalXor);
  EXPORT(addS); EXPORT(subS); EXPORT(mulS); EXPORT(divS); EXPORT(powS); EXPORT(remainderS);
  EXPORT(eqS); EXPORT(neS); EXPORT(ltS); EXPORT(leS); EXPORT(gtS); EXPORT(geS); EXPORT(rsubS); EXPORT(scalarPow);
  EXPORT(where); EXPORT(maskedFill); EXPORT(clamp); EXPORT(lerp);
  EXPORT(add_); EXPORT(sub_); EXPORT(mul_); EXPORT(div_); EXPORT(addS_); EXPORT(mulS_); EXPORT(divS_);
  EXPORT(addcmul_); EXPORT(addcdiv_); EXPORT(lerp_); EXPORT(clamp_); EXPORT(maskedFill_); EXPORT(sqrt_);
  EXPORT(sum); EXPORT(mean); EXPORT(prod); EXPORT(maxAll); EXPORT(minAll); EXPORT(maxDim); EXPORT(minDim);
  EXPORT(argmax); EXPORT(argmin); EXPORT(logsumexp); EXPORT(norm); EXPORT(var); EXPORT(std); EXPORT(cumsum);
  EXPORT(any); EXPORT(all);
  EXPORT(matmul); EXPORT(bmm); EXPORT(outer); EXPORT(addmm); EXPORT(linear); EXPORT(einsum);
  EXPORT(packedLinearAvailable); EXPORT(packLinear); EXPORT(packedLinear); EXPORT(packedLinearStale); EXPORT(disposePackedLinear);
  EXPORT(softmax); EXPORT(logSoftmax); EXPORT(layerNorm); EXPORT(embedding); EXPORT(crossEntropy);
  EXPORT(cosineSimilarity); EXPORT(dropout); EXPORT(scaledDotProductAttention);
  EXPORT(indexSelect); EXPORT(gather); EXPORT(scatterAdd); EXPORT(scatter); EXPORT(indexAdd);
  EXPORT(index); EXPORT(indexPut); EXPORT(indexPut_);
  EXPORT(topk); EXPORT(sort); EXPORT(triu); EXPORT(tril);
  EXPORT(cat); EXPORT(stack); EXPORT(splitSizes); EXPORT(chunk); EXPORT(reshape); EXPORT(view); EXPORT(permute);
  EXPORT(transpose); EXPORT(unsqueeze); EXPORT(squeeze); EXPORT(squeezeAll); EXPORT(expand); EXPORT(narrow);
  EXPORT(slice); EXPORT(select); EXPORT(flip); EXPORT(repeat);
  EXPORT(setRequiresGrad); EXPORT(requiresGrad); EXPORT(isLeaf); EXPORT(grad); EXPORT(setGrad); EXPORT(backward);
  EXPORT(setGradEnabled); EXPORT(isGradEnabled);
  EXPORT(setNumThreads); EXPORT(setKernelThreads); EXPORT(getNumThreads); EXPORT(cudaIsAvailable); EXPORT(cudaDeviceCount); EXPORT(runtimeInfo);
  return exports;
}

}  // namespace

NODE_API_MODULE(basin, Init)
