// Real GGUF files from the shared directory: the stories260K model and llama.cpp's vocab-only
// GGUFs. Each must open, expose what its producer wrote, describe itself and survive a copy
// through the writer.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "gguf/gguf.h"

namespace mint::gguf {
namespace {

namespace fs = std::filesystem;

const std::string kShared = MINT_SHARED_DIR;

// Copies metadata and tensors through GgufWriter and checks the reparsed copy matches.
void ExpectCopyMatches(const GgufFile& f) {
  GgufWriter w;
  for (const auto& [key, value] : f.metadata()) w.SetValue(key, value);
  for (const auto& t : f.tensors()) {
    ASSERT_TRUE(
        w.AddTensor(t.name, t.type, t.dims, std::vector<uint8_t>(t.data, t.data + t.nbytes)).ok());
  }
  ASSERT_TRUE(w.status().ok()) << w.status().ToString();
  const std::vector<uint8_t> image = w.Serialize();
  auto copy = GgufFile::FromMemory(image.data(), image.size());
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  ASSERT_EQ((*copy)->metadata().size(), f.metadata().size());
  for (const auto& [key, value] : f.metadata()) {
    const Value* v = (*copy)->Find(key);
    ASSERT_NE(v, nullptr) << key;
    EXPECT_TRUE(ValuesEqual(*v, value))
        << key << ": " << FormatValue(*v) << " vs " << FormatValue(value);
  }
  ASSERT_EQ((*copy)->tensors().size(), f.tensors().size());
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const TensorInfo& a = f.tensors()[i];
    const TensorInfo& b = (*copy)->tensors()[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.dims, b.dims);
    EXPECT_EQ(a.nbytes, b.nbytes);
    EXPECT_EQ(std::memcmp(a.data, b.data, a.nbytes), 0) << a.name;
  }
}

TEST(GgufSharedFiles, Stories260K) {
  const std::string path = kShared + "/models/stories260K.gguf";
  if (!fs::exists(path)) GTEST_SKIP() << "shared model absent: " << path;
  auto r = GgufFile::Open(path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const GgufFile& f = **r;
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.file_size(), fs::file_size(path));
  EXPECT_EQ(*f.GetString("general.architecture"), "llama");
  EXPECT_EQ(*f.GetInt("llama.block_count"), 5);
  EXPECT_EQ(*f.GetInt("llama.embedding_length"), 64);
  EXPECT_EQ(*f.GetInt("llama.attention.head_count"), 8);
  EXPECT_EQ(*f.GetInt("llama.attention.head_count_kv"), 4);
  EXPECT_EQ(*f.GetInt("llama.feed_forward_length"), 172);
  EXPECT_EQ(*f.GetString("tokenizer.ggml.model"), "llama");
  auto tokens = f.GetArray("tokenizer.ggml.tokens", ValueType::kString);
  ASSERT_TRUE(tokens.ok()) << tokens.status().ToString();
  ASSERT_EQ((*tokens)->items.size(), 512u);
  EXPECT_EQ(*(*tokens)->items[0].AsString(), "<unk>");
  EXPECT_EQ(*(*tokens)->items[1].AsString(), "<s>");

  EXPECT_EQ(f.tensors().size(), 48u);  // 9 per layer x 5, token_embd, output_norm, output
  int64_t total = 0;
  for (const auto& t : f.tensors()) {
    EXPECT_EQ(t.type, DType::kF32) << t.name;
    EXPECT_NE(t.data, nullptr);
    total += t.nbytes;
  }
  EXPECT_LE(total, static_cast<int64_t>(f.file_size()));
  const TensorInfo* embd = f.FindTensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->dims, (std::vector<int64_t>{64, 512}));
  EXPECT_EQ(embd->nbytes, 64 * 512 * 4);
  const TensorInfo* q = f.FindTensor("blk.4.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->dims, (std::vector<int64_t>{64, 64}));

  const std::string d = f.Describe();
  EXPECT_NE(d.find("GGUF v3"), std::string::npos);
  EXPECT_NE(d.find("tokenizer.ggml.tokens: array = [512 strings: \"<unk>\", \"<s>\""),
            std::string::npos)
      << d;
  EXPECT_NE(d.find("blk.4.ffn_down.weight"), std::string::npos) << d;
  EXPECT_NE(d.find("total: 48 tensors"), std::string::npos) << d;
  ExpectCopyMatches(f);
}

TEST(GgufSharedFiles, EveryLlamaCppVocabOpens) {
  const fs::path dir = kShared + "/tokenizers/llama-cpp-vocab";
  if (!fs::is_directory(dir)) GTEST_SKIP() << "shared vocab directory absent: " << dir;
  int opened = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".gguf") continue;
    SCOPED_TRACE(e.path().string());
    auto r = GgufFile::Open(e.path().string());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    const GgufFile& f = **r;
    EXPECT_TRUE(f.tensors().empty());
    EXPECT_TRUE(f.GetString("tokenizer.ggml.model").ok());
    auto tokens = f.GetArray("tokenizer.ggml.tokens", ValueType::kString);
    ASSERT_TRUE(tokens.ok()) << tokens.status().ToString();
    EXPECT_GT((*tokens)->items.size(), 1000u);
    EXPECT_NE(f.Describe().find("tokenizer.ggml.tokens"), std::string::npos);
    ExpectCopyMatches(f);
    ++opened;
  }
  if (opened == 0) GTEST_SKIP() << "no *.gguf in " << dir;
  EXPECT_GE(opened, 10);
}

}  // namespace
}  // namespace mint::gguf
