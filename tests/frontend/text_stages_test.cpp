#include "frontend/text_stages.h"

#include <gtest/gtest.h>

namespace mint::frontend {
namespace {

TextPipeline Chain() {
  TextPipeline p;
  p.Add(ReasoningStage(ReasoningOptions{}));
  ToolCallOptions o;
  o.tool_names = {"f"};
  o.make_id = [](int i) { return "call_" + std::to_string(i); };
  p.Add(ToolCallStage(ToolCallFormat::kHermes, o));
  p.Add(StopStringStage({"STOP"}));
  return p;
}

TextDelta RunSplit(const std::string& text, size_t step) {
  TextPipeline p = Chain();
  TextDelta all;
  auto take = [&](TextDelta d) {
    all.content += d.content;
    all.reasoning += d.reasoning;
    for (auto& c : d.calls) all.calls.push_back(c);
  };
  for (size_t i = 0; i < text.size() && !p.stopped(); i += step) take(p.Push(text.substr(i, step)));
  if (!p.stopped()) take(p.Flush());
  return all;
}

// Reasoning, then text, a call, text with a stop string: each stage sees only what the one
// before let through, whatever the split.
TEST(TextPipelineTest, StagesChainTheSameForEverySplit) {
  const std::string text =
      "<think>plan STOP here</think>Sure. <tool_call>{\"name\": \"f\", \"arguments\": {\"a\": 1}}"
      "</tool_call> Done STOP ignored <tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call>";
  const TextDelta whole = RunSplit(text, text.size());
  EXPECT_EQ(whole.reasoning, "plan STOP here");  // stop strings apply to content only
  ASSERT_EQ(whole.calls.size(), 1u);              // the second call is past the stop string
  EXPECT_EQ(whole.calls[0].name, "f");
  EXPECT_EQ(whole.calls[0].arguments, "{\"a\":1}");
  EXPECT_EQ(whole.content, "Sure.  Done ");
  for (size_t step = 1; step < 12; ++step) {
    const TextDelta split = RunSplit(text, step);
    EXPECT_EQ(split.content, whole.content) << step;
    EXPECT_EQ(split.reasoning, whole.reasoning) << step;
    ASSERT_EQ(split.calls.size(), 1u) << step;
    EXPECT_EQ(split.calls[0].arguments, whole.calls[0].arguments);
  }
}

}  // namespace
}  // namespace mint::frontend
