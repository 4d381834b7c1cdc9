// src/telemetry: the terminal sink. Erasing the block is "cursor up N lines, clear to the end of
// the screen"; drawing it again reuses render_tty_frame.
#include "telemetry/progress_terminal.hpp"

#include <spdlog/spdlog.h>

#include <fmt/format.h>

#include <cstdio>

#include "telemetry/progress.hpp"

namespace sv::telemetry {

namespace {

std::string_view level_color(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace: return "\033[37m";
    case spdlog::level::debug: return "\033[36m";
    case spdlog::level::info: return "\033[32m";
    case spdlog::level::warn: return "\033[33m\033[1m";
    case spdlog::level::err: return "\033[31m\033[1m";
    case spdlog::level::critical: return "\033[1m\033[41m";
    default: return "";
  }
}

}  // namespace

ProgressTerminal::ProgressTerminal(std::function<void(std::string_view)> write) : write_(std::move(write)) {
  if (!write_) {
    write_ = [](std::string_view bytes) {
      std::fwrite(bytes.data(), 1, bytes.size(), stderr);
      std::fflush(stderr);
    };
  }
}

void ProgressTerminal::show(const std::vector<std::string>& lines) {
  std::lock_guard lock(mutex_);
  write_(render_tty_frame(lines, lines_.size()));
  lines_ = lines;
}

void ProgressTerminal::release() {
  std::lock_guard lock(mutex_);
  lines_.clear();
}

void ProgressTerminal::sink_it_(const spdlog::details::log_msg& msg) {
  spdlog::memory_buf_t formatted;
  formatter_->format(msg, formatted);
  std::string out;
  if (!lines_.empty()) out += fmt::format("\x1b[{}A\r\x1b[J", lines_.size());
  const std::string_view text(formatted.data(), formatted.size());
  if (msg.color_range_end > msg.color_range_start && msg.color_range_end <= text.size()) {
    out += text.substr(0, msg.color_range_start);
    out += level_color(msg.level);
    out += text.substr(msg.color_range_start, msg.color_range_end - msg.color_range_start);
    out += "\033[m";
    out += text.substr(msg.color_range_end);
  } else {
    out += text;
  }
  if (!lines_.empty()) out += render_tty_frame(lines_, 0);
  write_(out);
}

std::shared_ptr<ProgressTerminal> install_progress_terminal(const std::string& pattern) {
  auto terminal = std::make_shared<ProgressTerminal>();
  terminal->set_pattern(pattern);
  auto logger = spdlog::default_logger();
  logger->sinks().clear();
  logger->sinks().push_back(terminal);
  return terminal;
}

}  // namespace sv::telemetry
