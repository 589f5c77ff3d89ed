// Logging for every Mint process: thin wrappers over spdlog so the backend can change in one place.
//
// Thread-safety: all functions are safe to call from any thread.
#pragma once

#include <spdlog/spdlog.h>

namespace mint::log {

enum class Level { kDebug, kInfo, kWarn, kError, kOff };

// Sets the global level; messages below it are dropped. Default: kInfo. Logs go to stderr.
void SetLevel(Level level);
// Parses "debug", "info", "warn", "error", "off". Returns false for anything else.
bool ParseLevel(const std::string& text, Level* level);

template <typename... Args>
void Debug(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  spdlog::debug(fmt, std::forward<Args>(args)...);
}
template <typename... Args>
void Info(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  spdlog::info(fmt, std::forward<Args>(args)...);
}
template <typename... Args>
void Warn(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  spdlog::warn(fmt, std::forward<Args>(args)...);
}
template <typename... Args>
void Error(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  spdlog::error(fmt, std::forward<Args>(args)...);
}

}  // namespace mint::log
