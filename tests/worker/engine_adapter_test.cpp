// The protocol's request and output cross the request plane (runtime.proto) and the engine's door
// (engine_adapter.h) with every field intact.
#include "worker/engine_adapter.h"

#include <gtest/gtest.h>

#include "runtime/request_plane.h"

namespace mint::worker {
namespace {

protocol::GenerateRequest EveryField() {
  protocol::GenerateRequest r;
  r.prompt = {1, 2, 3, 70000};
  r.sampling = {.temperature = 0.7f,
                .top_k = 40,
                .top_p = 0.9f,
                .min_p = 0.05f,
                .repetition_penalty = 1.1f,
                .frequency_penalty = -0.5f,
                .presence_penalty = 0.25f,
                .seed = 0xfeedfacecafebeefull,
                .has_seed = true};
  r.max_tokens = 123;
  r.stop_token_ids = {7, 9};
  r.logprobs = 3;
  r.priority = -2;
  r.kv_export = true;
  r.kv_import = std::string("\x00handle\xff", 8);
  r.kv_import_tokens = 2;
  r.grammar = "root ::= \"a\"";
  r.grammar_trigger = "<tool_call>";
  r.grammar_generated = 1;
  return r;
}

// The protocol's request and the engine's name their fields alike: one comparison serves both.
template <class A, class B>
void ExpectSameRequest(const A& a, const B& b) {
  EXPECT_EQ(a.prompt, b.prompt);
  EXPECT_EQ(a.sampling.temperature, b.sampling.temperature);
  EXPECT_EQ(a.sampling.top_k, b.sampling.top_k);
  EXPECT_EQ(a.sampling.top_p, b.sampling.top_p);
  EXPECT_EQ(a.sampling.min_p, b.sampling.min_p);
  EXPECT_EQ(a.sampling.repetition_penalty, b.sampling.repetition_penalty);
  EXPECT_EQ(a.sampling.frequency_penalty, b.sampling.frequency_penalty);
  EXPECT_EQ(a.sampling.presence_penalty, b.sampling.presence_penalty);
  EXPECT_EQ(a.sampling.seed, b.sampling.seed);
  EXPECT_EQ(a.sampling.has_seed, b.sampling.has_seed);
  EXPECT_EQ(a.max_tokens, b.max_tokens);
  EXPECT_EQ(a.stop_token_ids, b.stop_token_ids);
  EXPECT_EQ(a.logprobs, b.logprobs);
  EXPECT_EQ(a.priority, b.priority);
  EXPECT_EQ(a.kv_export, b.kv_export);
  EXPECT_EQ(a.kv_import, b.kv_import);
  EXPECT_EQ(a.kv_import_tokens, b.kv_import_tokens);
  EXPECT_EQ(a.grammar, b.grammar);
  EXPECT_EQ(a.grammar_trigger, b.grammar_trigger);
  EXPECT_EQ(a.grammar_generated, b.grammar_generated);
}

TEST(EngineAdapterTest, RequestCrossesThePlaneIntact) {
  const protocol::GenerateRequest r = EveryField();
  ExpectSameRequest(runtime::FromProto(runtime::ToProto(r)), r);
}

TEST(EngineAdapterTest, RequestReachesTheEngineIntact) {
  const protocol::GenerateRequest r = EveryField();
  ExpectSameRequest(ToEngine(r), r);
}

TEST(EngineAdapterTest, OutputComesBackIntact) {
  const engine::FinishReason engine_reasons[] = {
      engine::FinishReason::kNone, engine::FinishReason::kStop, engine::FinishReason::kLength,
      engine::FinishReason::kAbort, engine::FinishReason::kError};
  const protocol::FinishReason reasons[] = {
      protocol::FinishReason::kNone, protocol::FinishReason::kStop, protocol::FinishReason::kLength,
      protocol::FinishReason::kAbort, protocol::FinishReason::kError};
  for (int i = 0; i < 5; ++i) {
    engine::RequestOutput o;
    o.request_id = 42;
    o.tokens = {5, 6};
    o.logprobs = {{.token = 5, .logprob = -0.5f, .top = {{5, -0.5f}, {8, -1.25f}}},
                  {.token = 6, .logprob = -2.0f, .top = {}}};
    o.finish = engine_reasons[i];
    if (o.finish == engine::FinishReason::kError) o.error = Status::ResourceExhausted("no room");
    o.prompt_tokens = 100;
    o.cached_prompt_tokens = 64;
    o.generated_tokens = 2;
    o.kv_export_handle = "handle";
    o.kv_import_failed = true;

    const protocol::GenerateOutput p = FromEngine(o);
    // The request plane carries everything but the id (each side names requests its own way).
    for (const protocol::GenerateOutput& q : {p, runtime::FromProto(runtime::ToProto(p))}) {
      EXPECT_EQ(q.tokens, o.tokens);
      ASSERT_EQ(q.logprobs.size(), 2u);
      EXPECT_EQ(q.logprobs[0].token, 5);
      EXPECT_EQ(q.logprobs[0].logprob, -0.5f);
      EXPECT_EQ(q.logprobs[0].top, o.logprobs[0].top);
      EXPECT_TRUE(q.logprobs[1].top.empty());
      EXPECT_EQ(q.finish, reasons[i]);
      EXPECT_EQ(q.error.code(), o.error.code());
      EXPECT_EQ(q.error.message(), o.error.message());
      EXPECT_EQ(q.prompt_tokens, 100);
      EXPECT_EQ(q.cached_prompt_tokens, 64);
      EXPECT_EQ(q.generated_tokens, 2);
      EXPECT_EQ(q.kv_export_handle, "handle");
      EXPECT_TRUE(q.kv_import_failed);
    }
    EXPECT_EQ(p.request_id, 42u);
  }
}

TEST(EngineAdapterTest, CallbackSeesEachOutputConverted) {
  std::vector<protocol::GenerateOutput> seen;
  engine::OutputCallback cb =
      ToEngine([&](const protocol::GenerateOutput& o) { seen.push_back(o); });
  engine::RequestOutput o;
  o.request_id = 9;
  o.tokens = {1};
  cb(o);
  o.finish = engine::FinishReason::kLength;
  cb(o);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].finish, protocol::FinishReason::kNone);
  EXPECT_EQ(seen[1].finish, protocol::FinishReason::kLength);
  EXPECT_EQ(seen[1].request_id, 9u);
}

}  // namespace
}  // namespace mint::worker
