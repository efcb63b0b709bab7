// Node binding of the engine. Loading, decoding and embedding run on libuv worker threads
// (Napi::AsyncWorker); the calls that run on the JS thread only copy or read small state.
// Engine errors are C++ exceptions; node-addon-api turns uncaught ones into JS exceptions.
#define NAPI_CPP_EXCEPTIONS
#include <napi.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>

#include "gguf.h"
#include "pvad.h"
#include "quant.h"
#include "speaker.h"
#include "stream.h"
#include "transducer.h"

using namespace earshot;

namespace {

struct AddonData {
  Napi::FunctionReference transducer, stream, pvad, pvad_stream, speaker;
};

AddonData& data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

[[noreturn]] void throw_type(Napi::Env env, const std::string& msg) { throw Napi::TypeError::New(env, msg); }

// Int16Array or Float32Array -> floats in [-1, 1).
std::vector<float> audio_arg(const Napi::Value& v, const char* what) {
  Napi::Env env = v.Env();
  if (v.IsTypedArray()) {
    Napi::TypedArray ta = v.As<Napi::TypedArray>();
    if (ta.TypedArrayType() == napi_int16_array) {
      Napi::Int16Array a = v.As<Napi::Int16Array>();
      std::vector<float> out(a.ElementLength());
      for (size_t i = 0; i < out.size(); ++i) out[i] = a[i] / 32768.f;
      return out;
    }
    if (ta.TypedArrayType() == napi_float32_array) {
      Napi::Float32Array a = v.As<Napi::Float32Array>();
      return std::vector<float>(a.Data(), a.Data() + a.ElementLength());
    }
  }
  throw_type(env, std::string(what) + ": expected an Int16Array or a Float32Array of 16 kHz mono samples");
}

Napi::Object model_info(Napi::Env env, const GgufFile* f, const std::string& name, const char* arch,
                        const std::vector<std::pair<std::string, double>>& numbers) {
  Napi::Object info = Napi::Object::New(env);
  info.Set("name", name);
  info.Set("architecture", arch);
  info.Set("sampleRate", 16000);
  info.Set("kernel", kernel_name());
  double bytes = 0;
  Napi::Object types = Napi::Object::New(env);
  std::map<std::string, int> counts;
  Napi::Object meta = Napi::Object::New(env);
  if (f) {
    for (const auto& kv : f->tensors()) {
      bytes += double(kv.second.bytes);
      const char* t = kv.second.type == DType::F32    ? "F32"
                      : kv.second.type == DType::F16  ? "F16"
                      : kv.second.type == DType::Q4_0 ? "Q4_0"
                                                      : "Q8_0";
      counts[t]++;
    }
    if (f->has("earshot.provenance")) meta.Set("earshot.provenance", f->str("earshot.provenance"));
    meta.Set("path", f->path());
  }
  for (const auto& kv : counts) types.Set(kv.first, kv.second);
  for (const auto& kv : numbers) meta.Set(kv.first, kv.second);
  info.Set("tensorBytes", bytes);
  info.Set("tensorTypes", types);
  info.Set("metadata", meta);
  return info;
}

Napi::Object transcript_to_js(Napi::Env env, const Transcript& t) {
  Napi::Object r = Napi::Object::New(env);
  r.Set("text", t.text);
  Napi::Array toks = Napi::Array::New(env, t.tokens.size());
  for (size_t i = 0; i < t.tokens.size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("text", t.tokens[i].text);
    o.Set("start", t.tokens[i].start);
    o.Set("conf", t.tokens[i].conf);
    toks.Set(uint32_t(i), o);
  }
  r.Set("tokens", toks);
  Napi::Array b = Napi::Array::New(env, t.boundaries.size());
  for (size_t i = 0; i < t.boundaries.size(); ++i) b.Set(uint32_t(i), t.boundaries[i]);
  r.Set("boundaries", b);
  if (t.has_grammar) {
    r.Set("sentenceComplete", t.sentence_complete);
    if (t.has_prefix) {
      Napi::Object pre = Napi::Object::New(env);
      pre.Set("text", t.prefix);
      pre.Set("score", t.prefix_score);
      pre.Set("wildcard", t.prefix_wildcard);
      r.Set("sentencePrefix", pre);
    } else {
      r.Set("sentencePrefix", env.Null());
    }
    if (!t.matched) {
      r.Set("sentence", env.Null());
    } else {
      Napi::Object sen = Napi::Object::New(env);
      sen.Set("text", t.sentence);
      sen.Set("score", t.sentence_score);
      Napi::Array st = Napi::Array::New(env, t.sentence_tokens.size());
      for (size_t i = 0; i < t.sentence_tokens.size(); ++i) {
        Napi::Object o = Napi::Object::New(env);
        o.Set("text", t.sentence_tokens[i].text);
        o.Set("start", t.sentence_tokens[i].start);
        o.Set("conf", t.sentence_tokens[i].conf);
        st.Set(uint32_t(i), o);
      }
      sen.Set("tokens", st);
      r.Set("sentence", sen);
    }
  }
  return r;
}

using GrammarRef = std::shared_ptr<const Grammar>;
using LmRef = std::shared_ptr<const NgramLm>;

// ---- loading ----

template <typename Model, const char* kWhat>
class LoadWorker : public Napi::AsyncWorker {
 public:
  LoadWorker(Napi::Env env, std::string path, Napi::FunctionReference* ctor)
      : Napi::AsyncWorker(env), path_(std::move(path)), ctor_(ctor), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      auto file = std::make_shared<GgufFile>(path_);
      model_ = std::make_shared<Model>(file);
    } catch (const std::exception& e) {
      SetError(std::string("cannot load the ") + kWhat + ": " + e.what());  // the loader names the file
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    try {
      auto* holder = new std::shared_ptr<const Model>(model_);
      auto ext = Napi::External<std::shared_ptr<const Model>>::New(
          env, holder, [](Napi::Env, std::shared_ptr<const Model>* p) { delete p; });
      deferred_.Resolve(ctor_->New({ext}));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::string path_;
  Napi::FunctionReference* ctor_;
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<Model> model_;
};

std::string path_arg(const Napi::CallbackInfo& info, const char* fn) {
  if (info.Length() < 1 || !info[0].IsString())
    throw_type(info.Env(), std::string(fn) + ": expected a model file path");
  return info[0].As<Napi::String>().Utf8Value();
}

const char kTransducerWhat[] = "transducer model";
const char kPvadWhat[] = "personal VAD model";
const char kSpeakerWhat[] = "speaker encoder model";

template <typename Model>
std::shared_ptr<const Model> unwrap_model(const Napi::CallbackInfo& info, const char* what) {
  if (info.Length() < 1 || !info[0].IsExternal())
    throw_type(info.Env(), std::string(what) + " objects come from the load functions");
  return *info[0].As<Napi::External<std::shared_ptr<const Model>>>().Data();
}

// ---- recognizer streams ----

// Shared between the JS-facing stream and its decode worker.
struct StreamCore {
  enum Kind { kAudio, kFinalize, kReset, kPeek };
  struct Item {
    Kind kind;
    std::vector<float> audio;
    uint64_t id;
    int pad_ms = 0;  // kPeek
  };
  std::mutex mu;
  std::deque<Item> queue;
  bool running = false;
  Transcript partial;                        // guarded by mu
  std::map<uint64_t, Transcript> finished;   // finalize id -> result, guarded by mu
  std::unique_ptr<TransducerStream> engine;  // only the worker touches it while running
};

class DecodeWorker;

class RecognizerStreamWrap : public Napi::ObjectWrap<RecognizerStreamWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(
        env, "RecognizerStream",
        {InstanceMethod("acceptWaveform", &RecognizerStreamWrap::AcceptWaveform),
         InstanceMethod("partial", &RecognizerStreamWrap::Partial), InstanceMethod("peek", &RecognizerStreamWrap::Peek),
         InstanceMethod("finalize", &RecognizerStreamWrap::Finalize),
         InstanceMethod("reset", &RecognizerStreamWrap::Reset),
         InstanceMethod("dispose", &RecognizerStreamWrap::Dispose)});
  }

  RecognizerStreamWrap(const Napi::CallbackInfo& info);
  void kick(Napi::Env env);
  void on_done(Napi::Env env, const std::string* error);

 private:
  void check_live(const char* fn) {
    if (!core_) throw Napi::Error::New(Env(), std::string("RecognizerStream.") + fn + ": the stream is disposed");
  }
  Napi::Value AcceptWaveform(const Napi::CallbackInfo& info) {
    check_live("acceptWaveform");
    if (finalized_)
      throw Napi::Error::New(
          info.Env(),
          "RecognizerStream.acceptWaveform: the stream is finalized; call reset() before feeding new audio");
    if (info.Length() < 1)
      throw_type(info.Env(), "acceptWaveform: expected an Int16Array or a Float32Array of 16 kHz mono samples");
    std::vector<float> a = audio_arg(info[0], "acceptWaveform");
    {
      std::lock_guard<std::mutex> lock(core_->mu);
      core_->queue.push_back({StreamCore::kAudio, std::move(a), 0});
    }
    kick(info.Env());
    return info.Env().Undefined();
  }
  Napi::Value Partial(const Napi::CallbackInfo& info) {
    check_live("partial");
    std::lock_guard<std::mutex> lock(core_->mu);
    return transcript_to_js(info.Env(), core_->partial);
  }
  // What finalize() would give now, with padMs of silence after the audio queued so far; the stream
  // goes on as if it had not been asked.
  Napi::Value Peek(const Napi::CallbackInfo& info) {
    check_live("peek");
    if (finalized_) throw Napi::Error::New(info.Env(), "RecognizerStream.peek: the stream is finalized");
    int pad = 300;
    if (info.Length() > 0 && !info[0].IsUndefined()) {
      if (!info[0].IsNumber() || info[0].As<Napi::Number>().Int32Value() < 0 ||
          info[0].As<Napi::Number>().Int32Value() > 5000 ||
          info[0].As<Napi::Number>().DoubleValue() != info[0].As<Napi::Number>().Int32Value())
        throw Napi::RangeError::New(info.Env(), "RecognizerStream.peek: padMs must be an integer from 0 to 5000");
      pad = info[0].As<Napi::Number>().Int32Value();
    }
    auto d = Napi::Promise::Deferred::New(info.Env());
    const uint64_t id = ++next_id_;
    {
      std::lock_guard<std::mutex> lock(core_->mu);
      core_->queue.push_back({StreamCore::kPeek, {}, id, pad});
    }
    pending_.emplace(id, d);
    kick(info.Env());
    return d.Promise();
  }
  Napi::Value Finalize(const Napi::CallbackInfo& info) {
    check_live("finalize");
    auto d = Napi::Promise::Deferred::New(info.Env());
    if (finalized_) {
      // Finalizing again gives the same final result (after the first one lands).
      pending_.emplace(last_finalize_, d);
      if (!core_->running) on_done(info.Env(), nullptr);
      return d.Promise();
    }
    finalized_ = true;
    last_finalize_ = ++next_id_;
    {
      std::lock_guard<std::mutex> lock(core_->mu);
      core_->queue.push_back({StreamCore::kFinalize, {}, last_finalize_});
    }
    pending_.emplace(last_finalize_, d);
    kick(info.Env());
    return d.Promise();
  }
  Napi::Value Reset(const Napi::CallbackInfo& info) {
    check_live("reset");
    finalized_ = false;
    {
      std::lock_guard<std::mutex> lock(core_->mu);
      core_->queue.push_back({StreamCore::kReset, {}, 0});
    }
    kick(info.Env());
    return info.Env().Undefined();
  }
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    if (!core_) return info.Env().Undefined();
    {
      std::lock_guard<std::mutex> lock(core_->mu);
      core_->queue.clear();
    }
    for (auto& kv : pending_)
      kv.second.Reject(Napi::Error::New(info.Env(), "RecognizerStream disposed before finalize() finished").Value());
    pending_.clear();
    core_.reset();  // a running worker keeps its own reference until it ends
    return info.Env().Undefined();
  }

  std::shared_ptr<StreamCore> core_;
  std::multimap<uint64_t, Napi::Promise::Deferred> pending_;
  bool finalized_ = false;
  uint64_t next_id_ = 0, last_finalize_ = 0;
  std::map<uint64_t, Transcript> results_;  // finalize results already delivered (for a repeat)
};

class DecodeWorker : public Napi::AsyncWorker {
 public:
  DecodeWorker(Napi::Env env, std::shared_ptr<StreamCore> core, RecognizerStreamWrap* owner)
      : Napi::AsyncWorker(env), core_(std::move(core)), owner_(Napi::Persistent(owner->Value())), wrap_(owner) {}

  void Execute() override {
    for (;;) {
      StreamCore::Item item;
      {
        std::lock_guard<std::mutex> lock(core_->mu);
        if (core_->queue.empty()) return;
        item = std::move(core_->queue.front());
        core_->queue.pop_front();
      }
      try {
        TransducerStream& s = *core_->engine;
        if (item.kind == StreamCore::kPeek) {
          Transcript t = s.peek(item.pad_ms);
          std::lock_guard<std::mutex> lock(core_->mu);
          core_->finished[item.id] = std::move(t);
          continue;
        }
        if (item.kind == StreamCore::kAudio) {
          s.accept(item.audio.data(), item.audio.size());
          // The snapshot is rebuilt only when a chunk was decoded, not for every piece of audio.
          if (s.decode_ready() == 0) continue;
        } else if (item.kind == StreamCore::kFinalize) {
          s.finalize();
        } else {
          s.reset();
        }
        Transcript t = s.result();
        std::lock_guard<std::mutex> lock(core_->mu);
        if (item.kind == StreamCore::kFinalize) core_->finished[item.id] = t;
        core_->partial = std::move(t);
      } catch (const std::exception& e) {
        SetError(std::string("decoding failed: ") + e.what());
        return;
      }
    }
  }
  void OnOK() override { done(nullptr); }
  void OnError(const Napi::Error& e) override {
    std::string msg = e.Message();
    done(&msg);
  }

 private:
  void done(const std::string* error) {
    {
      std::lock_guard<std::mutex> lock(core_->mu);
      core_->running = false;
    }
    wrap_->on_done(Env(), error);
    owner_.Reset();
  }
  std::shared_ptr<StreamCore> core_;
  Napi::ObjectReference owner_;  // keeps the JS stream alive while decoding
  RecognizerStreamWrap* wrap_;
};

RecognizerStreamWrap::RecognizerStreamWrap(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<RecognizerStreamWrap>(info) {
  // Everything that can fail was done by TransducerWrap::CreateStream: a throwing ObjectWrap
  // constructor is not safe.
  core_ = std::make_shared<StreamCore>();
  core_->engine.reset(info[0].As<Napi::External<TransducerStream>>().Data());
}

// Parses createStream's options and builds the engine stream; throws JS errors naming the problem.
std::unique_ptr<TransducerStream> make_stream(Napi::Env env, std::shared_ptr<const TransducerModel> model,
                                              const Napi::Value& options) {
  if (!options.IsUndefined() && !options.IsObject()) throw_type(env, "createStream: options must be an object");
  StreamOptions opt;
  if (options.IsObject()) {
    Napi::Object o = options.As<Napi::Object>();
    Napi::Value c = o.Get("chunkFrames"), b = o.Get("beam"), h = o.Get("hotPhrases"), tp = o.Get("tailPaddingMs");
    Napi::Value sen = o.Get("sentences"), sb = o.Get("sentenceBeam"), tb = o.Get("sentenceTokenBonus");
    Napi::Value lm = o.Get("lm"), lw = o.Get("lmWeight");
    if (!lm.IsUndefined()) {
      if (!lm.IsExternal()) throw_type(env, "createStream: lm must come from model.compileLm()");
      opt.lm = *lm.As<Napi::External<LmRef>>().Data();
    }
    if (!lw.IsUndefined()) {
      if (!lw.IsNumber() || !(lw.As<Napi::Number>().DoubleValue() >= 0) || lw.As<Napi::Number>().DoubleValue() > 10)
        throw Napi::RangeError::New(env, "createStream: lmWeight must be a number from 0 to 10");
      opt.lm_weight = lw.As<Napi::Number>().FloatValue();
    }
    if (!tb.IsUndefined()) {
      if (!tb.IsNumber() || !std::isfinite(tb.As<Napi::Number>().DoubleValue()) ||
          std::fabs(tb.As<Napi::Number>().DoubleValue()) > 20)
        throw Napi::RangeError::New(env, "createStream: sentenceTokenBonus must be a number from -20 to 20");
      opt.grammar_token_bonus = tb.As<Napi::Number>().FloatValue();
    }
    if (!sen.IsUndefined()) {
      if (!sen.IsExternal()) throw_type(env, "createStream: sentences must come from model.compileSentences()");
      opt.grammar = *sen.As<Napi::External<GrammarRef>>().Data();
    }
    if (!sb.IsUndefined()) {
      if (!sb.IsNumber() || sb.As<Napi::Number>().Int32Value() < 1 || sb.As<Napi::Number>().Int32Value() > 16 ||
          sb.As<Napi::Number>().DoubleValue() != sb.As<Napi::Number>().Int32Value())
        throw Napi::RangeError::New(env, "createStream: sentenceBeam must be an integer from 1 to 16");
      opt.grammar_beam = sb.As<Napi::Number>().Int32Value();
    }
    if (!tp.IsUndefined()) {
      if (!tp.IsNumber() || tp.As<Napi::Number>().Int32Value() < 0 || tp.As<Napi::Number>().Int32Value() > 5000 ||
          tp.As<Napi::Number>().DoubleValue() != tp.As<Napi::Number>().Int32Value())
        throw Napi::RangeError::New(env, "createStream: tailPaddingMs must be an integer from 0 to 5000");
      opt.tail_padding_ms = tp.As<Napi::Number>().Int32Value();
    }
    if (!c.IsUndefined()) {
      if (!c.IsNumber() || c.As<Napi::Number>().Int32Value() < 1 || c.As<Napi::Number>().Int32Value() > 1000 ||
          c.As<Napi::Number>().DoubleValue() != c.As<Napi::Number>().Int32Value())
        throw Napi::RangeError::New(env, "createStream: chunkFrames must be an integer from 1 to 1000");
      opt.chunk_frames = c.As<Napi::Number>().Int32Value();
    }
    if (!b.IsUndefined()) {
      if (!b.IsNumber() || b.As<Napi::Number>().Int32Value() < 1 || b.As<Napi::Number>().Int32Value() > 16 ||
          b.As<Napi::Number>().DoubleValue() != b.As<Napi::Number>().Int32Value())
        throw Napi::RangeError::New(env, "createStream: beam must be an integer from 1 to 16");
      opt.beam = b.As<Napi::Number>().Int32Value();
    }
    if (!h.IsUndefined()) {
      if (!h.IsArray()) throw_type(env, "createStream: hotPhrases must be an array of { phrase, boost }");
      Napi::Array arr = h.As<Napi::Array>();
      for (uint32_t i = 0; i < arr.Length(); ++i) {
        Napi::Value e = arr.Get(i);
        if (!e.IsObject())
          throw_type(env, "createStream: hotPhrases[" + std::to_string(i) + "] must be { phrase, boost }");
        Napi::Value p = e.As<Napi::Object>().Get("phrase"), w = e.As<Napi::Object>().Get("boost");
        if (!p.IsString() || !w.IsNumber() || !std::isfinite(w.As<Napi::Number>().DoubleValue()))
          throw_type(env, "createStream: hotPhrases[" + std::to_string(i) +
                              "] needs a string phrase and a finite number boost");
        opt.hot_phrases.emplace_back(p.As<Napi::String>().Utf8Value(), w.As<Napi::Number>().FloatValue());
      }
    }
  }
  auto stream = std::make_unique<TransducerStream>(std::move(model), opt);
  if (!stream->rejected_phrases().empty()) {
    std::string list;
    for (const auto& p : stream->rejected_phrases()) list += (list.empty() ? "\"" : ", \"") + p + "\"";
    throw Napi::Error::New(env, "createStream: hot phrase(s) " + list + " cannot be spelled with the model's tokens");
  }
  return stream;
}

void RecognizerStreamWrap::kick(Napi::Env env) {
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    if (core_->running || core_->queue.empty()) return;
    core_->running = true;
  }
  (new DecodeWorker(env, core_, this))->Queue();
}

void RecognizerStreamWrap::on_done(Napi::Env env, const std::string* error) {
  if (!core_) return;  // disposed meanwhile: its promises were already rejected
  Napi::HandleScope scope(env);
  if (error) {
    for (auto& kv : pending_) kv.second.Reject(Napi::Error::New(env, *error).Value());
    pending_.clear();
  } else {
    {
      std::lock_guard<std::mutex> lock(core_->mu);
      for (auto& kv : core_->finished) results_[kv.first] = kv.second;
      core_->finished.clear();
    }
    for (auto it = pending_.begin(); it != pending_.end();) {
      auto r = results_.find(it->first);
      if (r == results_.end()) {
        ++it;
        continue;
      }
      it->second.Resolve(transcript_to_js(env, r->second));
      it = pending_.erase(it);
    }
    // Only the latest result can be asked for again.
    for (auto it = results_.begin(); it != results_.end();)
      it = it->first == last_finalize_ ? std::next(it) : results_.erase(it);
  }
  kick(env);
}

// ---- transducer model ----

class TransducerWrap : public Napi::ObjectWrap<TransducerWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(
        env, "TransducerModel",
        {InstanceMethod("createStream", &TransducerWrap::CreateStream),
         InstanceMethod("compileSentences", &TransducerWrap::CompileSentences),
         InstanceMethod("compileLm", &TransducerWrap::CompileLm), InstanceMethod("dispose", &TransducerWrap::Dispose),
         InstanceMethod("debugEncode", &TransducerWrap::DebugEncode),
         InstanceMethod("debugJoint", &TransducerWrap::DebugJoint),
         InstanceMethod("debugFbank", &TransducerWrap::DebugFbank)});
  }
  TransducerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TransducerWrap>(info) {
    model_ = unwrap_model<TransducerModel>(info, "TransducerModel");
    const TransducerConfig& c = model_->config();
    info.This().As<Napi::Object>().Set("info", model_info(info.Env(), model_->file(), c.name, "earshot-transducer",
                                                          {{"vocab_size", c.vocab},
                                                           {"d_model", c.d_model},
                                                           {"n_layers", c.n_layers},
                                                           {"n_heads", c.n_heads},
                                                           {"ff_dim", c.ff_dim},
                                                           {"conv_kernel", c.conv_kernel},
                                                           {"stack", c.stack},
                                                           {"pred_dim", c.pred_dim},
                                                           {"joiner_dim", c.joiner_dim},
                                                           {"chunk_frames", c.chunk_frames},
                                                           {"left_context_frames", c.left_context},
                                                           {"has_cif", c.has_cif ? 1 : 0}}));
  }

 private:
  const std::shared_ptr<const TransducerModel>& live(const char* fn) {
    if (!model_) throw Napi::Error::New(Env(), std::string("TransducerModel.") + fn + ": the model is disposed");
    return model_;
  }
  Napi::Value CreateStream(const Napi::CallbackInfo& info) {
    auto stream = make_stream(info.Env(), live("createStream"), info.Length() > 0 ? info[0] : info.Env().Undefined());
    return data(info.Env()).stream.New({Napi::External<TransducerStream>::New(info.Env(), stream.release())});
  }
  // The sentence automaton from daemon/sentences.ts, mapped onto this model's tokens; an opaque
  // handle that streams share (createStream's `sentences`).
  Napi::Value CompileSentences(const Napi::CallbackInfo& info) {
    const TransducerModel& m = *live("compileSentences");
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) throw_type(env, "compileSentences: expected an automaton object");
    Napi::Object a = info[0].As<Napi::Object>();
    GrammarSpec spec;
    auto num = [&](const char* k) {
      Napi::Value v = a.Get(k);
      if (!v.IsNumber()) throw_type(env, std::string("compileSentences: ") + k + " must be a number");
      return v.As<Napi::Number>().Int32Value();
    };
    auto i32 = [&](const char* k) {
      Napi::Value v = a.Get(k);
      if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
        throw_type(env, std::string("compileSentences: ") + k + " must be an Int32Array");
      Napi::Int32Array t = v.As<Napi::Int32Array>();
      return std::vector<int32_t>(t.Data(), t.Data() + t.ElementLength());
    };
    spec.states = num("states");
    spec.start = num("start");
    spec.arcs = i32("arcs");
    spec.final = i32("final");
    spec.call_start = i32("callStart");
    Napi::Value le = a.Get("listEnd");
    if (!le.IsTypedArray() || le.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      throw_type(env, "compileSentences: listEnd must be a Uint8Array");
    Napi::Uint8Array l = le.As<Napi::Uint8Array>();
    spec.list_end.assign(l.Data(), l.Data() + l.ElementLength());
    GrammarRef g;
    try {
      g = std::make_shared<const Grammar>(spec, m.config().tokens, m.config().blank);
    } catch (const Error& e) {
      throw Napi::Error::New(env, std::string("compileSentences: ") + e.what());
    }
    return Napi::External<GrammarRef>::New(env, new GrammarRef(std::move(g)),
                                           [](Napi::Env, GrammarRef* p) { delete p; });
  }
  // An n-gram model of text lines (spelled with the model's tokens) for createStream's `lm`; lines
  // the tokens cannot spell are refused with their number.
  Napi::Value CompileLm(const Napi::CallbackInfo& info) {
    const TransducerModel& m = *live("compileLm");
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsNumber())
      throw_type(env, "compileLm: expected (lines: string[], order: number)");
    Napi::Array arr = info[0].As<Napi::Array>();
    std::vector<std::vector<int>> sentences;
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      Napi::Value v = arr.Get(i);
      if (!v.IsString()) throw_type(env, "compileLm: line " + std::to_string(i + 1) + " is not a string");
      std::string line = v.As<Napi::String>().Utf8Value();
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      std::vector<int> ids = tokenize_phrase(line, m.config().tokens);
      if (ids.empty())
        throw Napi::Error::New(env, "compileLm: line " + std::to_string(i + 1) +
                                        " cannot be spelled with the model's tokens: \"" + line.substr(0, 80) + "\"");
      sentences.push_back(std::move(ids));
    }
    LmRef lm;
    try {
      lm = std::make_shared<const NgramLm>(sentences, info[1].As<Napi::Number>().Int32Value(), m.config().vocab,
                                           m.config().blank);
    } catch (const Error& e) {
      throw Napi::Error::New(env, std::string("compileLm: ") + e.what());
    }
    return Napi::External<LmRef>::New(env, new LmRef(std::move(lm)), [](Napi::Env, LmRef* p) { delete p; });
  }
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    model_.reset();  // streams keep their own reference
    return info.Env().Undefined();
  }
  // Test hook (blocks the caller): raw encoder output of whole audio decoded chunk by chunk.
  Napi::Value DebugEncode(const Napi::CallbackInfo& info) {
    const TransducerModel& m = *live("debugEncode");
    if (info.Length() < 1) throw_type(info.Env(), "debugEncode: expected audio");
    std::vector<float> audio = audio_arg(info[0], "debugEncode");
    int C = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : m.config().chunk_frames;
    if (C < 1) throw Napi::RangeError::New(info.Env(), "debugEncode: chunk must be >= 1");
    Fbank fb;
    fb.accept(audio.data(), audio.size());
    std::vector<float> f;
    size_t frames = fb.take(f);
    m.cmvn(f.data(), int64_t(frames));
    const int S = m.config().stack, D = m.config().d_model;
    int T = int(frames / S);
    Napi::Float32Array out = Napi::Float32Array::New(info.Env(), size_t(T) * D);
    auto st = m.new_encoder_state();
    for (int t = 0; t < T; t += C)
      m.encode_chunk(st, &f[size_t(t) * S * 80], std::min(C, T - t), out.Data() + size_t(t) * D);
    return out;
  }
  // Test hook: the raw log-mel frames [T * 80] the engine computes for the audio (before CMVN).
  Napi::Value DebugFbank(const Napi::CallbackInfo& info) {
    if (info.Length() < 1) throw_type(info.Env(), "debugFbank: expected audio");
    std::vector<float> audio = audio_arg(info[0], "debugFbank");
    Fbank fb;
    fb.accept(audio.data(), audio.size());
    std::vector<float> f;
    fb.take(f);
    Napi::Float32Array out = Napi::Float32Array::New(info.Env(), f.size());
    std::copy(f.begin(), f.end(), out.Data());
    return out;
  }
  // Test hook: joiner log-probabilities for one encoder frame and a token history (oldest first).
  Napi::Value DebugJoint(const Napi::CallbackInfo& info) {
    const TransducerModel& m = *live("debugJoint");
    const TransducerConfig& c = m.config();
    if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsTypedArray())
      throw_type(info.Env(), "debugJoint: expected (Float32Array enc frame, Int32Array history)");
    Napi::Float32Array enc = info[0].As<Napi::Float32Array>();
    Napi::Int32Array hist = info[1].As<Napi::Int32Array>();
    if (enc.ElementLength() != size_t(c.d_model) || hist.ElementLength() != size_t(c.pred_context))
      throw Napi::RangeError::New(info.Env(), "debugJoint: wrong enc or history length");
    for (size_t i = 0; i < hist.ElementLength(); ++i)
      if (hist[i] < 0 || hist[i] >= c.vocab)
        throw Napi::RangeError::New(info.Env(), "debugJoint: token id out of range");
    std::vector<float> je(c.joiner_dim), jp(c.joiner_dim);
    m.join_encoder(enc.Data(), 1, je.data());
    m.predict(hist.Data(), jp.data());
    Napi::Float32Array out = Napi::Float32Array::New(info.Env(), c.vocab);
    m.joint(je.data(), jp.data(), out.Data());
    return out;
  }
  std::shared_ptr<const TransducerModel> model_;
};

// ---- personal VAD ----

class PvadStreamWrap : public Napi::ObjectWrap<PvadStreamWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(
        env, "PvadStream",
        {InstanceMethod("accept", &PvadStreamWrap::Accept), InstanceMethod("acceptAsync", &PvadStreamWrap::AcceptAsync),
         InstanceMethod("reset", &PvadStreamWrap::Reset)});
  }
  // Built and checked by PvadWrap::CreateStream (a throwing ObjectWrap constructor is not safe).
  PvadStreamWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PvadStreamWrap>(info) {
    stream_.reset(info[0].As<Napi::External<PvadStream>>().Data());
  }

 private:
  // One acceptAsync call in flight at a time, the rest queued in order; a reset() while busy is
  // queued too, so it lands between the right pieces of audio.
  struct Job {
    bool reset;
    std::vector<float> audio;
    Napi::Promise::Deferred deferred;
  };
  class Worker : public Napi::AsyncWorker {
   public:
    Worker(Napi::Env env, PvadStreamWrap* owner, PvadStream* stream, std::vector<float> audio)
        : Napi::AsyncWorker(env),
          owner_(owner),
          ref_(Napi::Persistent(owner->Value())),
          stream_(stream),
          audio_(std::move(audio)) {}
    void Execute() override { stream_->accept(audio_.data(), audio_.size(), out_); }
    void OnOK() override {
      Napi::Float32Array r = Napi::Float32Array::New(Env(), out_.size());
      std::copy(out_.begin(), out_.end(), r.Data());
      owner_->finish(r);
    }

   private:
    PvadStreamWrap* owner_;
    Napi::ObjectReference ref_;  // keeps the stream (and its engine state) alive meanwhile
    PvadStream* stream_;
    std::vector<float> audio_, out_;
  };

  void pump(Napi::Env env) {
    while (!busy_ && !jobs_.empty()) {
      if (jobs_.front().reset) {
        stream_->reset();
        jobs_.pop_front();
        continue;
      }
      busy_ = true;
      (new Worker(env, this, stream_.get(), std::move(jobs_.front().audio)))->Queue();
    }
  }
  void finish(Napi::Float32Array r) {
    busy_ = false;
    Napi::Promise::Deferred d = jobs_.front().deferred;
    jobs_.pop_front();
    d.Resolve(r);
    pump(Env());
  }
  bool pending() const { return busy_ || !jobs_.empty(); }

  Napi::Value Accept(const Napi::CallbackInfo& info) {
    if (info.Length() < 1) throw_type(info.Env(), "PvadStream.accept: expected audio");
    if (pending())
      throw Napi::Error::New(info.Env(), "PvadStream.accept: acceptAsync() calls are still running on this stream");
    std::vector<float> a = audio_arg(info[0], "PvadStream.accept");
    out_.clear();
    stream_->accept(a.data(), a.size(), out_);
    Napi::Float32Array r = Napi::Float32Array::New(info.Env(), out_.size());
    std::copy(out_.begin(), out_.end(), r.Data());
    return r;
  }
  Napi::Value AcceptAsync(const Napi::CallbackInfo& info) {
    if (info.Length() < 1) throw_type(info.Env(), "PvadStream.acceptAsync: expected audio");
    auto d = Napi::Promise::Deferred::New(info.Env());
    jobs_.push_back(Job{false, audio_arg(info[0], "PvadStream.acceptAsync"), d});
    pump(info.Env());
    return d.Promise();
  }
  Napi::Value Reset(const Napi::CallbackInfo& info) {
    if (pending())
      jobs_.push_back(Job{true, {}, Napi::Promise::Deferred::New(info.Env())});
    else
      stream_->reset();
    return info.Env().Undefined();
  }
  std::unique_ptr<PvadStream> stream_;
  std::vector<float> out_;
  std::deque<Job> jobs_;
  bool busy_ = false;
};

class PvadWrap : public Napi::ObjectWrap<PvadWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(
        env, "PvadModel",
        {InstanceMethod("createStream", &PvadWrap::CreateStream), InstanceMethod("dispose", &PvadWrap::Dispose)});
  }
  PvadWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PvadWrap>(info) {
    model_ = unwrap_model<PvadModel>(info, "PvadModel");
    const PvadConfig& c = model_->config();
    Napi::Object inf = model_info(info.Env(), model_->file(), c.name, "earshot-pvad",
                                  {{"hidden", c.hidden}, {"embed_dim", c.embed_dim}});
    inf.Get("metadata").As<Napi::Object>().Set("spkenc_name", c.spkenc_name);
    info.This().As<Napi::Object>().Set("info", inf);
  }

 private:
  Napi::Value CreateStream(const Napi::CallbackInfo& info) {
    if (!model_) throw Napi::Error::New(info.Env(), "PvadModel.createStream: the model is disposed");
    const float* e = nullptr;
    Napi::Value v = info.Length() > 0 ? info[0] : info.Env().Null();
    if (!v.IsNull() && !v.IsUndefined()) {
      if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
        throw_type(info.Env(), "PvadModel.createStream: embedding must be a Float32Array or null");
      Napi::Float32Array a = v.As<Napi::Float32Array>();
      if (a.ElementLength() != size_t(model_->config().embed_dim))
        throw Napi::RangeError::New(info.Env(), "PvadModel.createStream: embedding has " +
                                                    std::to_string(a.ElementLength()) + " values, the model expects " +
                                                    std::to_string(model_->config().embed_dim));
      e = a.Data();
    }
    auto stream = std::make_unique<PvadStream>(model_, e);
    return data(info.Env()).pvad_stream.New({Napi::External<PvadStream>::New(info.Env(), stream.release())});
  }
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    model_.reset();
    return info.Env().Undefined();
  }
  std::shared_ptr<const PvadModel> model_;
};

// ---- speaker encoder ----

class EmbedWorker : public Napi::AsyncWorker {
 public:
  EmbedWorker(Napi::Env env, std::shared_ptr<const SpeakerEncoder> m, std::vector<float> audio)
      : Napi::AsyncWorker(env),
        model_(std::move(m)),
        audio_(std::move(audio)),
        deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      out_ = model_->embed(audio_.data(), audio_.size());
    } catch (const std::exception& e) {
      SetError(std::string("SpeakerEncoder.embed: ") + e.what());
    }
  }
  void OnOK() override {
    Napi::Float32Array r = Napi::Float32Array::New(Env(), out_.size());
    std::copy(out_.begin(), out_.end(), r.Data());
    deferred_.Resolve(r);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::shared_ptr<const SpeakerEncoder> model_;
  std::vector<float> audio_, out_;
  Napi::Promise::Deferred deferred_;
};

class SpeakerWrap : public Napi::ObjectWrap<SpeakerWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(
        env, "SpeakerEncoder",
        {InstanceMethod("embed", &SpeakerWrap::Embed), InstanceMethod("dispose", &SpeakerWrap::Dispose)});
  }
  SpeakerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SpeakerWrap>(info) {
    model_ = unwrap_model<SpeakerEncoder>(info, "SpeakerEncoder");
    const SpeakerConfig& c = model_->config();
    info.This().As<Napi::Object>().Set("info", model_info(info.Env(), model_->file(), c.name, "earshot-spkenc",
                                                          {{"hidden", c.hidden},
                                                           {"n_layers", c.n_layers},
                                                           {"embed_dim", c.embed_dim},
                                                           {"window_frames", c.window_frames},
                                                           {"window_hop", c.window_hop}}));
  }

 private:
  Napi::Value Embed(const Napi::CallbackInfo& info) {
    if (!model_) throw Napi::Error::New(info.Env(), "SpeakerEncoder.embed: the model is disposed");
    if (info.Length() < 1) throw_type(info.Env(), "SpeakerEncoder.embed: expected audio");
    auto* w = new EmbedWorker(info.Env(), model_, audio_arg(info[0], "SpeakerEncoder.embed"));
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
  }
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    model_.reset();
    return info.Env().Undefined();
  }
  std::shared_ptr<const SpeakerEncoder> model_;
};

// ---- module functions ----

template <typename Model, const char* kWhat>
Napi::Value load(const Napi::CallbackInfo& info, Napi::FunctionReference AddonData::*ctor, const char* fn) {
  auto* w = new LoadWorker<Model, kWhat>(info.Env(), path_arg(info, fn), &(data(info.Env()).*ctor));
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

Napi::Value SdNotify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString())
    throw_type(env, "sdNotify: expected a state string such as \"READY=1\"");
  std::string state = info[0].As<Napi::String>().Utf8Value();
  const char* sock = std::getenv("NOTIFY_SOCKET");
  if (!sock || !*sock) return Napi::Boolean::New(env, false);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  size_t len = std::strlen(sock);
  if (len >= sizeof(addr.sun_path)) throw Napi::Error::New(env, "sdNotify: NOTIFY_SOCKET is too long");
  if (sock[0] != '/' && sock[0] != '@')
    throw Napi::Error::New(env, std::string("sdNotify: NOTIFY_SOCKET must be a path or @abstract name, got ") + sock);
  std::memcpy(addr.sun_path, sock, len);
  if (sock[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  socklen_t alen = socklen_t(offsetof(sockaddr_un, sun_path) + len + (sock[0] == '@' ? 0 : 1));
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw Napi::Error::New(env, std::string("sdNotify: socket: ") + std::strerror(errno));
  ssize_t n = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), alen);
  int err = errno;
  close(fd);
  if (n < 0) throw Napi::Error::New(env, std::string("sdNotify: cannot send to ") + sock + ": " + std::strerror(err));
  return Napi::Boolean::New(env, true);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* d = new AddonData();
  env.SetInstanceData(d);
  d->transducer = Napi::Persistent(TransducerWrap::Init(env));
  d->stream = Napi::Persistent(RecognizerStreamWrap::Init(env));
  d->pvad = Napi::Persistent(PvadWrap::Init(env));
  d->pvad_stream = Napi::Persistent(PvadStreamWrap::Init(env));
  d->speaker = Napi::Persistent(SpeakerWrap::Init(env));
  exports.Set("loadTransducer", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return load<TransducerModel, kTransducerWhat>(info, &AddonData::transducer, "loadTransducer");
              }));
  exports.Set("loadPvad", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return load<PvadModel, kPvadWhat>(info, &AddonData::pvad, "loadPvad");
              }));
  exports.Set("loadSpeakerEncoder", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return load<SpeakerEncoder, kSpeakerWhat>(info, &AddonData::speaker, "loadSpeakerEncoder");
              }));
  exports.Set("sdNotify", Napi::Function::New(env, SdNotify));
  exports.Set("setThreads", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                Napi::Env e = info.Env();
                if (info.Length() < 1 || !info[0].IsNumber() || info[0].As<Napi::Number>().DoubleValue() < 1 ||
                    info[0].As<Napi::Number>().DoubleValue() > 64 ||
                    info[0].As<Napi::Number>().DoubleValue() != info[0].As<Napi::Number>().Int32Value())
                  throw Napi::RangeError::New(e, "setThreads: expected an integer from 1 to 64");
                set_threads(info[0].As<Napi::Number>().Int32Value());
                return Napi::Number::New(e, threads());
              }));
  exports.Set("useKernel", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                if (info.Length() < 1 || !info[0].IsString())
                  throw_type(info.Env(), "useKernel: expected a kernel family name");
                return Napi::Boolean::New(info.Env(), force_kernel(info[0].As<Napi::String>().Utf8Value().c_str()));
              }));
  exports.Set("availableKernels", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                std::vector<std::string> names = available_kernel_names();
                Napi::Array a = Napi::Array::New(info.Env(), names.size());
                for (size_t i = 0; i < names.size(); ++i) a.Set(uint32_t(i), names[i]);
                return a;
              }));
  exports.Set("kernelName", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return Napi::String::New(info.Env(), kernel_name());
              }));
  return exports;
}

}  // namespace

NODE_API_MODULE(earshot, Init)
