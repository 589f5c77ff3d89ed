// WordPiece (GGUF model "bert") on a small hand-made vocabulary: word splitting, accent stripping,
// lower-casing, CJK, unknown words, [CLS]/[SEP]; and the Unicode tables behind it.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace mint::tokenizer {
namespace {

// Spelled the way llama.cpp's converter writes a BERT vocabulary: word-initial pieces with "▁",
// continuation pieces without WordPiece's "##".
const std::vector<std::string> kVocab = {
    "[PAD]",  "[UNK]",  "[CLS]", "[SEP]",                                           // 0-3
    "▁hello", "▁world", "▁,",    "▁!",     "▁$",   "▁un", "aff", "able", "▁unaff",  // 4-12
    "▁你",    "▁好",    "▁cafe", "▁σοφια", "▁hel", "lo",  "▁€",                     // 13-19
};
enum : int32_t {
  kPad,
  kUnk,
  kCls,
  kSep,
  kHello,
  kWorld,
  kComma,
  kBang,
  kDollar,
  kUn,
  kAff,
  kAble,
  kUnaff,
  kNi,
  kHao,
  kCafe,
  kSophia,
  kHel,
  kLo,
  kEuro,
};

std::unique_ptr<Tokenizer> MakeTokenizer() {
  std::vector<int32_t> types(kVocab.size(), 1);
  for (int32_t id : {kPad, kUnk, kCls, kSep}) types[id] = 3;  // control
  gguf::GgufWriter w;
  w.SetString("tokenizer.ggml.model", "bert");
  w.SetString("tokenizer.ggml.pre", "bert-bge");
  w.SetStringArray("tokenizer.ggml.tokens", kVocab);
  w.SetI32Array("tokenizer.ggml.token_type", types);
  w.SetU32("tokenizer.ggml.unknown_token_id", kUnk);
  w.SetU32("tokenizer.ggml.cls_token_id", kCls);
  w.SetU32("tokenizer.ggml.seperator_token_id", kSep);
  w.SetU32("tokenizer.ggml.padding_token_id", kPad);
  const std::vector<uint8_t> image = w.Serialize();
  auto file = gguf::GgufFile::FromMemory(image.data(), image.size());
  EXPECT_TRUE(file.ok()) << file.status().ToString();
  if (!file.ok()) return nullptr;
  auto tok = Tokenizer::FromGguf(**file);
  EXPECT_TRUE(tok.ok()) << tok.status().ToString();
  return tok.ok() ? std::move(tok).value() : nullptr;
}

class WordPiece : public ::testing::Test {
 protected:
  void SetUp() override {
    tok_ = MakeTokenizer();
    ASSERT_NE(tok_, nullptr);
  }
  std::vector<int32_t> Encode(const std::string& text, bool add_special = false) {
    auto ids = tok_->Encode(text, add_special, /*parse_special=*/false);
    EXPECT_TRUE(ids.ok()) << ids.status().ToString();
    return ids.ok() ? *ids : std::vector<int32_t>{};
  }
  std::unique_ptr<Tokenizer> tok_;
};

using Ids = std::vector<int32_t>;

TEST_F(WordPiece, Metadata) {
  EXPECT_EQ(tok_->unk_id(), kUnk);
  EXPECT_EQ(tok_->bos_id(), kCls);
  EXPECT_EQ(tok_->eos_id(), kSep);
  EXPECT_TRUE(tok_->add_bos());
  EXPECT_TRUE(tok_->add_eos());
}

TEST_F(WordPiece, PunctuationIsItsOwnWord) {
  EXPECT_EQ(Encode("Hello, World!"), (Ids{kHello, kComma, kWorld, kBang}));
  EXPECT_EQ(Encode("hello,world!!"), (Ids{kHello, kComma, kWorld, kBang, kBang}));
  EXPECT_EQ(Encode("  hello \t\n world  "), (Ids{kHello, kWorld}));
  EXPECT_EQ(Encode(""), Ids{});
  EXPECT_EQ(Encode(" \n "), Ids{});
}

TEST_F(WordPiece, OnlyAsciiSymbolsSplit) {
  EXPECT_EQ(Encode("$hello"), (Ids{kDollar, kHello}));
  EXPECT_EQ(Encode("€"), Ids{kEuro});
  EXPECT_EQ(Encode("€hello"), Ids{kUnk});  // one word "€hello", not in the vocabulary
}

TEST_F(WordPiece, GreedyLongestMatchFirst) {
  EXPECT_EQ(Encode("unaffable"), (Ids{kUnaff, kAble}));  // not ▁un aff able
  EXPECT_EQ(Encode("hello"), Ids{kHello});               // not ▁hel lo
  EXPECT_EQ(Encode("hellolo"), (Ids{kHello, kLo}));
}

TEST_F(WordPiece, UnmatchedWordIsOneUnknown) {
  // "▁unaff" + "able" match, "x" does not: the whole word becomes [UNK], nothing partial.
  EXPECT_EQ(Encode("unaffablex"), Ids{kUnk});
  EXPECT_EQ(Encode("hello unaffablex world"), (Ids{kHello, kUnk, kWorld}));
  EXPECT_EQ(Encode("xyz"), Ids{kUnk});
  // The cache must not change the answer the second time round.
  EXPECT_EQ(Encode("hello unaffablex world"), (Ids{kHello, kUnk, kWorld}));
}

TEST_F(WordPiece, AccentsStrippedAndLowerCased) {
  EXPECT_EQ(Encode("CAFÉ"), Ids{kCafe});
  EXPECT_EQ(Encode("Café"), Ids{kCafe});
  EXPECT_EQ(Encode("ĤÉĹĹŐ"), Ids{kHello});
  EXPECT_EQ(Encode("ΣΟΦΙΑ"), Ids{kSophia});  // non-ASCII lower-casing (no final-sigma rule)
}

TEST_F(WordPiece, CjkIdeographsAreWords) {
  EXPECT_EQ(Encode("你好"), (Ids{kNi, kHao}));
  EXPECT_EQ(Encode("hello你好world"), (Ids{kHello, kNi, kHao, kWorld}));
}

TEST_F(WordPiece, ControlCharactersDroppedUnicodeSpacesSplit) {
  EXPECT_EQ(Encode("hel\x07lo"), Ids{kHello});    // BEL (Cc) vanishes, no split
  EXPECT_EQ(Encode("hel\u200Blo"), Ids{kHello});  // ZERO WIDTH SPACE is Cf, not space
  EXPECT_EQ(Encode("hello\u3000world"), (Ids{kHello, kWorld}));  // IDEOGRAPHIC SPACE
  EXPECT_EQ(Encode("hello\u00A0world"), (Ids{kHello, kWorld}));  // NO-BREAK SPACE
  EXPECT_EQ(Encode(std::string("hel\0lo", 6)), Ids{kHello});
  EXPECT_EQ(Encode("hel\xFFlo"), Ids{kHello});  // invalid byte -> U+FFFD -> dropped
}

TEST_F(WordPiece, SpecialTokensAndDecoding) {
  const Ids ids = Encode("Hello, world!", /*add_special=*/true);
  EXPECT_EQ(ids, (Ids{kCls, kHello, kComma, kWorld, kBang, kSep}));
  EXPECT_EQ(tok_->Decode(ids, /*skip_special=*/true), "hello , world !");
  EXPECT_EQ(tok_->Decode(Ids{kUnaff, kAble, kHello}), "unaffable hello");
  // "[CLS]" in text is only the token when special tokens are parsed.
  auto parsed = tok_->Encode("[CLS]hello", false, /*parse_special=*/true);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, (Ids{kCls, kHello}));
}

TEST(UnicodeClasses, Categories) {
  EXPECT_EQ(CharClassOf('a'), 0);
  EXPECT_EQ(CharClassOf('7'), 0);
  EXPECT_EQ(CharClassOf(' '), kCharWhitespace);
  EXPECT_EQ(CharClassOf('\t'), kCharWhitespace);
  EXPECT_EQ(CharClassOf(0x1F), kCharControl);  // Python's isspace() says yes; White_Space no
  EXPECT_EQ(CharClassOf(0x85), kCharWhitespace);
  EXPECT_EQ(CharClassOf(0x3000), kCharWhitespace);
  EXPECT_EQ(CharClassOf(0x200B), kCharControl);
  EXPECT_EQ(CharClassOf(0xE000), kCharControl);  // private use
  EXPECT_EQ(CharClassOf('!'), kCharPunctuation);
  EXPECT_EQ(CharClassOf('_'), kCharPunctuation);
  EXPECT_EQ(CharClassOf(0x3002), kCharPunctuation);  // 。
  EXPECT_EQ(CharClassOf('$'), kCharSymbol);
  EXPECT_EQ(CharClassOf('`'), kCharSymbol);
  EXPECT_EQ(CharClassOf(0x20AC), kCharSymbol);   // €
  EXPECT_EQ(CharClassOf(0x1F999), kCharSymbol);  // 🦙
  EXPECT_EQ(CharClassOf(0x4E2D), 0);
  EXPECT_EQ(CharClassOf(0x10FFFF), 0);  // unassigned (Cn) is not control
}

TEST(UnicodeClasses, Lowercase) {
  EXPECT_EQ(SimpleLowercase('A'), uint32_t{'a'});
  EXPECT_EQ(SimpleLowercase('a'), uint32_t{'a'});
  EXPECT_EQ(SimpleLowercase(0xC9), 0xE9u);    // É
  EXPECT_EQ(SimpleLowercase(0x3A3), 0x3C3u);  // Σ
  EXPECT_EQ(SimpleLowercase(0x130), uint32_t{'i'});
  EXPECT_EQ(SimpleLowercase(0x10400), 0x10428u);  // Deseret
  EXPECT_EQ(SimpleLowercase(0x4E2D), 0x4E2Du);
  std::string out;
  AppendLowercase("İSTANBUL ÀB ΣΑ 中", &out);
  EXPECT_EQ(out, "i\u0307stanbul àb σα 中");
}

TEST(UnicodeClasses, FirstOfCanonicalDecomposition) {
  EXPECT_EQ(FirstOfCanonicalDecomposition('e'), uint32_t{'e'});
  EXPECT_EQ(FirstOfCanonicalDecomposition(0xE9), uint32_t{'e'});    // é
  EXPECT_EQ(FirstOfCanonicalDecomposition(0x1EC7), uint32_t{'e'});  // ệ, two levels deep
  EXPECT_EQ(FirstOfCanonicalDecomposition(0x2126), 0x3A9u);         // OHM SIGN -> Ω
  EXPECT_EQ(FirstOfCanonicalDecomposition(0xAC00), 0x1100u);        // 가 -> leading jamo
  EXPECT_EQ(FirstOfCanonicalDecomposition(0xF900), 0x8C48u);        // compatibility ideograph
  EXPECT_EQ(FirstOfCanonicalDecomposition(0x4E2D), 0x4E2Du);
  EXPECT_EQ(FirstOfCanonicalDecomposition(0x301), 0x301u);
}

}  // namespace
}  // namespace mint::tokenizer
