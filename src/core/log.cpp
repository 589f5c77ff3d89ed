#include "core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace mint::log {
namespace {

std::shared_ptr<spdlog::logger> MakeStderrLogger() {
  auto logger = spdlog::stderr_color_mt("mint");
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%L%$ %v");
  return logger;
}

void EnsureDefault() {
  static const bool installed = [] {
    spdlog::set_default_logger(MakeStderrLogger());
    return true;
  }();
  (void)installed;
}

}  // namespace

void SetLevel(Level level) {
  EnsureDefault();
  switch (level) {
    case Level::kDebug: spdlog::set_level(spdlog::level::debug); break;
    case Level::kInfo: spdlog::set_level(spdlog::level::info); break;
    case Level::kWarn: spdlog::set_level(spdlog::level::warn); break;
    case Level::kError: spdlog::set_level(spdlog::level::err); break;
    case Level::kOff: spdlog::set_level(spdlog::level::off); break;
  }
}

bool ParseLevel(const std::string& text, Level* level) {
  if (text == "debug") *level = Level::kDebug;
  else if (text == "info") *level = Level::kInfo;
  else if (text == "warn") *level = Level::kWarn;
  else if (text == "error") *level = Level::kError;
  else if (text == "off") *level = Level::kOff;
  else return false;
  return true;
}

}  // namespace mint::log
