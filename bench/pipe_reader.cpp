// bench/pipe_reader.cpp — sv-bench-pipe: the reading end of the benchmark's pipe. It stands where
// Airbyte's platform stands (a process reading the connector's stdout), so a pipe run measures the
// connector and the pipe, not the reader: it reads stdin in 1 MiB reads into one buffer, counts
// lines and RECORD lines (lines that start with {"type":"RECORD"), and notes when the first
// RECORD arrived. It is C++ because a reader in Python costs about twice the CPU per byte and
// became the limit of the `cat` ceiling (docs/benchmarks.md).
//
//   sv-bench-pipe [--start=SECONDS] [--keep=FILE]
//     --start  the CLOCK_MONOTONIC time (seconds) the run started (Python's time.monotonic());
//              first_record_s is measured from it (default: when the reader started)
//     --keep   also writes everything read to FILE (small incremental runs read it back)
// Output, one JSON line on stdout when stdin ends:
//   {"lines":L,"records":R,"bytes":B,"first_record_s":F,"cpu_seconds":C}   (F = -1: no RECORD)
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::string_view kRecordPrefix = R"({"type":"RECORD")";

double monotonic_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

struct Counts {
  unsigned long long lines = 0, records = 0, bytes = 0;
  double first_record_s = -1;
};

//! Counts the lines of one read. `at_line_start` carries across reads: whether the next byte
//! begins a line; `prefix_seen` is how much of the RECORD prefix the current line has matched so
//! far (a prefix can be split across two reads).
class LineCounter {
 public:
  explicit LineCounter(double start) : start_(start) {}

  void feed(const char* p, std::size_t n, Counts& c) {
    const char* end = p + n;
    while (p < end) {
      if (matching_) {
        // Still inside the prefix of the current line: compare byte by byte (rarely more than a
        // few bytes: only at the start of a line, and across a read boundary).
        while (p < end && matched_ < kRecordPrefix.size()) {
          if (*p != kRecordPrefix[matched_]) {
            matching_ = false;
            break;
          }
          ++matched_;
          ++p;
        }
        if (matching_ && matched_ == kRecordPrefix.size()) {
          matching_ = false;
          if (c.records++ == 0) c.first_record_s = monotonic_seconds() - start_;
        }
        if (p >= end) break;
      }
      const void* nl = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
      if (nl == nullptr) break;
      ++c.lines;
      p = static_cast<const char*>(nl) + 1;
      matching_ = true;
      matched_ = 0;
    }
  }

 private:
  double start_;
  bool matching_ = true;  // the stream's first line starts at its first byte
  std::size_t matched_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  double start = monotonic_seconds();
  std::string keep_path;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a.starts_with("--start=")) {
      start = std::strtod(argv[i] + 8, nullptr);
    } else if (a.starts_with("--keep=")) {
      keep_path = std::string(a.substr(7));
    } else {
      std::fprintf(stderr, "sv-bench-pipe: unknown argument %s (usage: sv-bench-pipe [--start=S] [--keep=FILE])\n",
                   argv[i]);
      return 2;
    }
  }
  std::FILE* keep = nullptr;
  if (!keep_path.empty() && (keep = std::fopen(keep_path.c_str(), "wb")) == nullptr) {
    std::fprintf(stderr, "sv-bench-pipe: cannot write %s: %s\n", keep_path.c_str(), std::strerror(errno));
    return 1;
  }
  std::vector<char> buf(1 << 20);
  Counts c;
  LineCounter counter(start);
  for (;;) {
    ssize_t n = ::read(STDIN_FILENO, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::fprintf(stderr, "sv-bench-pipe: read: %s\n", std::strerror(errno));
      return 1;
    }
    if (n == 0) break;
    c.bytes += static_cast<unsigned long long>(n);
    counter.feed(buf.data(), static_cast<std::size_t>(n), c);
    if (keep != nullptr &&
        std::fwrite(buf.data(), 1, static_cast<std::size_t>(n), keep) != static_cast<std::size_t>(n)) {
      std::fprintf(stderr, "sv-bench-pipe: write %s: %s\n", keep_path.c_str(), std::strerror(errno));
      return 1;
    }
  }
  if (keep != nullptr && std::fclose(keep) != 0) {
    std::fprintf(stderr, "sv-bench-pipe: close %s: %s\n", keep_path.c_str(), std::strerror(errno));
    return 1;
  }
  std::printf("{\"lines\":%llu,\"records\":%llu,\"bytes\":%llu,\"first_record_s\":%.6f,\"cpu_seconds\":%.6f}\n",
              c.lines, c.records, c.bytes, c.first_record_s, cpu_seconds());
  return 0;
}
