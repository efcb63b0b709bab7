// The recognizer's binding: TransducerModel (loadTransducer) and its RecognizerStream objects. A
// stream queues its audio, finalize, peek and reset requests in order; one decode worker at a time
// (a libuv thread) works through the queue on the engine stream, and the JS thread only copies the
// results it leaves.
#include <deque>
#include <map>
#include <mutex>

#include "binding.h"
#include "grammar.h"
#include "ngram.h"
#include "search.h"
#include "stream.h"
#include "transducer.h"

namespace earshot {
namespace addon {
namespace {

// Option ranges. Where daemon/config.ts has the option (recognizer.beam, recognizer.chunk_frames,
// recognizer.hot_phrases[].boost, recognizer.lm.weight) they are the schema's: what the
// configuration accepts, the binding accepts. The others are bounds the daemon stays well inside.
constexpr int kMaxBeam = 16;           // beam and sentenceBeam, from 1
constexpr int kMaxChunkFrames = 64;    // chunkFrames, from 1
constexpr double kMaxBoost = 10;       // hotPhrases[].boost, from 0
constexpr double kMaxLmWeight = 2;     // lmWeight, from 0
constexpr double kMaxTokenBonus = 20;  // sentenceTokenBonus, from -20
constexpr int kMaxPaddingMs = 5000;    // tailPaddingMs and peek's padMs, from 0
constexpr int kPeekPaddingMs = 300;    // peek's default padMs

Napi::Array tokens_to_js(Napi::Env env, const std::vector<TokenOut>& tokens) {
  Napi::Array out = Napi::Array::New(env, tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("text", tokens[i].text);
    o.Set("start", tokens[i].start);
    o.Set("conf", tokens[i].conf);
    out.Set(uint32_t(i), o);
  }
  return out;
}

Napi::Object decode_result_to_js(Napi::Env env, const DecodeResult& t) {
  Napi::Object r = Napi::Object::New(env);
  r.Set("text", t.text);
  r.Set("tokens", tokens_to_js(env, t.tokens));
  Napi::Array b = Napi::Array::New(env, t.boundaries.size());
  for (size_t i = 0; i < t.boundaries.size(); ++i) b.Set(uint32_t(i), t.boundaries[i]);
  r.Set("boundaries", b);
  if (t.end_of_utterance >= 0) r.Set("endOfUtterance", t.end_of_utterance);
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
      sen.Set("tokens", tokens_to_js(env, t.sentence_tokens));
      r.Set("sentence", sen);
    }
  }
  return r;
}

using GrammarRef = std::shared_ptr<const Grammar>;
using LmRef = std::shared_ptr<const NgramLm>;

// ---- streams ----

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
  DecodeResult partial;                       // guarded by mu
  std::map<uint64_t, DecodeResult> finished;  // finalize id -> result, guarded by mu
  std::unique_ptr<TransducerStream> engine;   // only the worker touches it while running
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
    return decode_result_to_js(info.Env(), core_->partial);
  }
  // What finalize() would give now, with padMs of silence after the audio queued so far; the stream
  // goes on as if it had not been asked.
  Napi::Value Peek(const Napi::CallbackInfo& info) {
    check_live("peek");
    if (finalized_) throw Napi::Error::New(info.Env(), "RecognizerStream.peek: the stream is finalized");
    const int pad = int_option(info.Length() > 0 ? info[0] : info.Env().Undefined(), "RecognizerStream.peek: padMs", 0,
                               kMaxPaddingMs, kPeekPaddingMs);
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
  std::map<uint64_t, DecodeResult> results_;  // finalize results already delivered (for a repeat)
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
          DecodeResult t = s.peek(item.pad_ms);
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
        DecodeResult t = s.result();
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
    Napi::Value lm = o.Get("lm"), sen = o.Get("sentences"), h = o.Get("hotPhrases");
    if (!lm.IsUndefined()) {
      if (!lm.IsExternal()) throw_type(env, "createStream: lm must come from model.compileLm()");
      opt.lm = *lm.As<Napi::External<LmRef>>().Data();
    }
    opt.lm_weight = float_option(o.Get("lmWeight"), "createStream: lmWeight", 0, kMaxLmWeight, opt.lm_weight);
    opt.grammar_token_bonus = float_option(o.Get("sentenceTokenBonus"), "createStream: sentenceTokenBonus",
                                           -kMaxTokenBonus, kMaxTokenBonus, opt.grammar_token_bonus);
    if (!sen.IsUndefined()) {
      if (!sen.IsExternal()) throw_type(env, "createStream: sentences must come from model.compileSentences()");
      opt.grammar = *sen.As<Napi::External<GrammarRef>>().Data();
    }
    opt.grammar_beam = int_option(o.Get("sentenceBeam"), "createStream: sentenceBeam", 1, kMaxBeam, opt.grammar_beam);
    opt.tail_padding_ms =
        int_option(o.Get("tailPaddingMs"), "createStream: tailPaddingMs", 0, kMaxPaddingMs, opt.tail_padding_ms);
    opt.chunk_frames =
        int_option(o.Get("chunkFrames"), "createStream: chunkFrames", 1, kMaxChunkFrames, opt.chunk_frames);
    opt.beam = int_option(o.Get("beam"), "createStream: beam", 1, kMaxBeam, opt.beam);
    if (!h.IsUndefined()) {
      if (!h.IsArray()) throw_type(env, "createStream: hotPhrases must be an array of { phrase, boost }");
      Napi::Array arr = h.As<Napi::Array>();
      for (uint32_t i = 0; i < arr.Length(); ++i) {
        const std::string where = "createStream: hotPhrases[" + std::to_string(i) + "]";
        Napi::Value e = arr.Get(i);
        if (!e.IsObject()) throw_type(env, where + " must be { phrase, boost }");
        Napi::Value p = e.As<Napi::Object>().Get("phrase");
        if (!p.IsString()) throw_type(env, where + " needs a string phrase");
        const double boost = number_arg(e.As<Napi::Object>().Get("boost"), where + ".boost", 0, kMaxBoost, false);
        opt.hot_phrases.emplace_back(p.As<Napi::String>().Utf8Value(), float(boost));
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
      it->second.Resolve(decode_result_to_js(env, r->second));
      it = pending_.erase(it);
    }
    // Only the latest result can be asked for again.
    for (auto it = results_.begin(); it != results_.end();)
      it = it->first == last_finalize_ ? std::next(it) : results_.erase(it);
  }
  kick(env);
}

// ---- the model ----

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
                                                           {"has_cif", c.has_cif ? 1 : 0},
                                                           {"eou_hidden", c.eou_hidden}}));
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
  // Test hooks (debug.cpp).
  Napi::Value DebugEncode(const Napi::CallbackInfo& info) { return debug_encode(info, *live("debugEncode")); }
  Napi::Value DebugFbank(const Napi::CallbackInfo& info) { return debug_fbank(info); }
  Napi::Value DebugJoint(const Napi::CallbackInfo& info) { return debug_joint(info, *live("debugJoint")); }
  std::shared_ptr<const TransducerModel> model_;
};

}  // namespace

void init_recognizer(Napi::Env env, Napi::Object exports, AddonData& d) {
  d.transducer = Napi::Persistent(TransducerWrap::Init(env));
  d.stream = Napi::Persistent(RecognizerStreamWrap::Init(env));
  exports.Set("loadTransducer", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return load<TransducerModel>(info, "loadTransducer", "transducer model", data(info.Env()).transducer);
              }));
}

}  // namespace addon
}  // namespace earshot
