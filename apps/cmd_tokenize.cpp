// `mint tokenize --model M TEXT` and `mint detokenize --model M IDS...`.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "apps/app_util.h"
#include "apps/commands.h"
#include "tokenizer/tokenizer.h"

namespace mint::apps {
namespace {


struct TokenizeArgs {
  std::string model;
  std::string text;
  bool no_bos = false;
  bool parse_special = false;
  bool pieces = false;
};

struct DetokenizeArgs {
  std::string model;
  std::vector<std::string> ids;
  bool skip_special = false;
};

std::string Escaped(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

int RunTokenize(const TokenizeArgs& a) {
  auto tok = tokenizer::Tokenizer::Load(a.model);
  if (!tok.ok()) return Fail(tok.status().WithContext(a.model));
  std::string text = a.text;
  if (text == "-") text.assign(std::istreambuf_iterator<char>(std::cin), {});
  auto ids = (*tok)->Encode(text, /*add_special=*/!a.no_bos, a.parse_special);
  if (!ids.ok()) return Fail(ids.status());
  if (a.pieces) {
    for (int32_t id : *ids) {
      std::printf("%d\t'%s'\n", id, Escaped((*tok)->TokenPiece(id)).c_str());
    }
    return 0;
  }
  std::string line;
  for (size_t i = 0; i < ids->size(); ++i) {
    if (i) line.push_back(' ');
    line += std::to_string((*ids)[i]);
  }
  std::printf("%s\n", line.c_str());
  return 0;
}

int RunDetokenize(const DetokenizeArgs& a) {
  auto tok = tokenizer::Tokenizer::Load(a.model);
  if (!tok.ok()) return Fail(tok.status().WithContext(a.model));
  std::vector<int32_t> ids;
  for (const std::string& arg : a.ids) {
    // Accept "1 2 3" as one argument as well as separate arguments.
    size_t pos = 0;
    while (pos < arg.size()) {
      while (pos < arg.size() && (arg[pos] == ' ' || arg[pos] == ',')) ++pos;
      if (pos >= arg.size()) break;
      size_t used = 0;
      long long v = 0;
      try {
        v = std::stoll(arg.substr(pos), &used);
      } catch (const std::exception&) {
        return Fail(Status::InvalidArgument("not a token id: '" + arg.substr(pos) + "'"));
      }
      if (v < 0 || v >= (*tok)->vocab_size()) {
        return Fail(Status::OutOfRange("token id " + std::to_string(v) + " outside [0, " +
                                       std::to_string((*tok)->vocab_size()) + ")"));
      }
      ids.push_back(static_cast<int32_t>(v));
      pos += used;
    }
  }
  const std::string text = (*tok)->Decode(ids, a.skip_special);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  return 0;
}

}  // namespace

CommandFn RegisterTokenize(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "tokenize",
      "Print the token ids of a text (model: a .gguf, a tokenizer.json, or its folder)");
  auto a = std::make_shared<TokenizeArgs>();
  cmd->add_option("-m,--model", a->model, "GGUF model or Hugging Face tokenizer.json")->required();
  cmd->add_option("text", a->text, "Text to tokenize (\"-\" reads stdin)")->required();
  cmd->add_flag("--no-bos", a->no_bos, "Do not add BOS/EOS as the vocabulary would");
  cmd->add_flag("--parse-special", a->parse_special,
                "Recognise control tokens such as <|im_start|> written in the text");
  cmd->add_flag("--pieces", a->pieces, "Print one id and its text per line");
  return [a]() { return RunTokenize(*a); };
}

CommandFn RegisterDetokenize(CLI::App& app) {
  auto* cmd = app.add_subcommand("detokenize", "Print the text of token ids");
  auto a = std::make_shared<DetokenizeArgs>();
  cmd->add_option("-m,--model", a->model, "GGUF model or Hugging Face tokenizer.json")->required();
  cmd->add_option("ids", a->ids, "Token ids")->required();
  cmd->add_flag("--skip-special", a->skip_special, "Leave out control tokens");
  return [a]() { return RunDetokenize(*a); };
}

}  // namespace mint::apps
