// StopMatcher: applies OpenAI "stop" strings to a stream of generated text.
//
// Push() takes each new piece of text and returns what can be sent to the client now; it holds
// back the longest suffix that could still become a stop string. When a stop string completes
// (possibly spanning several pieces) the output ends just before it: the stop string itself and
// everything after it are dropped, as OpenAI does, and stopped() becomes true. Flush() at the end
// of generation returns whatever was held back.
//
// Which stop wins: the one that completes first in the text (smallest end offset); among those
// ending at the same offset, the one starting first (the longest). This is what a generator that
// checks after each token sees, and it makes the result independent of how the text was split
// into pieces: concatenating every Push() plus Flush() equals TruncateAtStop(whole text).
//
// Empty stop strings are ignored. Pieces are expected to be whole UTF-8; the held-back boundary
// is moved back to a character start so even malformed input is never split mid-character by
// the matcher. Cost per Push: O(stops * (held + piece) + sum of stop lengths^2) worst case.
//
// Thread-safety: one matcher per stream; not safe for concurrent use.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mint::frontend {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);

  struct Output {
    std::string text;      // safe to emit now (never contains a stop string)
    bool stopped = false;  // a stop string completed: `text` is the last output
  };
  // After stopped(), returns {"", true} and ignores the piece.
  Output Push(std::string_view piece);
  // Returns the held-back text (empty after a stop) and clears it.
  std::string Flush();

  bool stopped() const { return stopped_; }
  // The stop string that matched, or -1; an index into the constructor's list.
  int matched_index() const { return matched_; }
  // Bytes currently held back.
  size_t held() const { return held_.size(); }

  // The non-streaming answer: `text` cut before the first completing stop string (see above).
  static std::string TruncateAtStop(std::string_view text, const std::vector<std::string>& stops,
                                    bool* stopped = nullptr);

 private:
  std::vector<std::string> stops_;  // as given (empty ones kept for indexing, never matched)
  std::string held_;
  bool stopped_ = false;
  int matched_ = -1;
};

}  // namespace mint::frontend
