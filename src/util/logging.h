#pragma once
// Logging goes through spdlog (Debian's compiled library). One process-wide logger; the level
// follows
// --log-level.
#include <spdlog/spdlog.h>

#include <string_view>

namespace sglang {

// Accepts SGLang's --log-level names (debug, info, warning, error, critical).
bool set_log_level(std::string_view level);

}  // namespace sglang

#define SGLANG_LOG_DEBUG(...) ::spdlog::debug(__VA_ARGS__)
#define SGLANG_LOG_INFO(...) ::spdlog::info(__VA_ARGS__)
#define SGLANG_LOG_WARN(...) ::spdlog::warn(__VA_ARGS__)
#define SGLANG_LOG_ERROR(...) ::spdlog::error(__VA_ARGS__)
