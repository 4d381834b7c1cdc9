// bench/socket_reader.cpp — sv-bench-socket: the destination side of the benchmark's socket mode
// (Airbyte's "speed mode", docs/speed-mode.md). It stands where a destination stands: it connects
// to every data channel socket the connector listens on and drains each in its own thread (1 MiB
// reads), so a socket run measures the connector and the sockets, not the reader.
//
//   sv-bench-socket --paths=P1,P2,… --format=PROTOBUF|JSONL --mode=frame|decode [--start=SECONDS]
//     --mode=frame   counts messages by the framing only: PROTOBUF = varint-delimited messages
//                    (a record is a message whose first byte is field 1's tag), JSONL = lines
//                    (a record is a line that starts with {"type":"RECORD")
//     --mode=decode  also decodes every message: PROTOBUF with the classes protoc generates from
//                    subprojects/airbyte-proto (AirbyteMessageProtobuf, values counted), JSONL
//                    with RapidJSON (a DOM per line, the `record.data` members counted)
//     --start        the CLOCK_MONOTONIC time (seconds) the run started (Python's
//                    time.monotonic()); first_record_s is measured from it
// It waits up to 60 s for each socket file to accept a connection (the connector creates them).
// Output, one JSON line on stdout once every socket ended:
//   {"records":R,"messages":M,"bytes":B,"values":V,"bad":X,"first_record_s":F,"cpu_seconds":C,
//    "per_socket":[R1,R2,…]}
// values = decoded record values (0 in frame mode); bad = messages that did not parse or framing
// that broke (0 for a good run); F = -1: no record.
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <rapidjson/document.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "airbyte_message.pb.h"

namespace {

namespace pb = io::airbyte::protocol::protobuf;

constexpr std::string_view kRecordPrefix = R"({"type":"RECORD")";
constexpr unsigned char kRecordTag = (1 << 3) | 2;  // AirbyteMessageProtobuf.record: field 1, length-delimited

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

struct Options {
  std::vector<std::string> paths;
  bool protobuf = true;
  bool decode = false;
  double start = 0;
};

struct Counts {
  std::uint64_t records = 0, messages = 0, bytes = 0, values = 0, bad = 0;
  double first_record = -1;  // monotonic seconds
};

int connect_to(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path) return -1;
  std::memcpy(a.sun_path, path.data(), path.size());
  // Bounded: 6000 × 10 ms. The connector creates the socket once its inputs are valid.
  for (int i = 0; i < 6000; ++i) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
    ::close(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

//! Drains one socket: whole messages are handled from the buffer, a partial one stays at its
//! front for the next read.
class Drain {
 public:
  Drain(const Options& o, Counts& c) : o_(o), c_(c) {}

  void run(int fd) {
    std::vector<char> buf(1 << 20);
    std::size_t have = 0;
    while (true) {
      if (have == buf.size()) buf.resize(buf.size() * 2);  // one message larger than the buffer
      const ssize_t n = ::read(fd, buf.data() + have, buf.size() - have);
      if (n <= 0) break;
      c_.bytes += static_cast<std::uint64_t>(n);
      have += static_cast<std::size_t>(n);
      const std::size_t used = o_.protobuf ? frames(buf.data(), have) : lines(buf.data(), have);
      std::memmove(buf.data(), buf.data() + used, have - used);
      have -= used;
    }
    if (have != 0) ++c_.bad;  // the socket ended inside a message
  }

 private:
  void record_seen() {
    ++c_.records;
    if (c_.first_record < 0) c_.first_record = monotonic_seconds();
  }

  //! PROTOBUF: varint length, then the message.
  std::size_t frames(const char* p, std::size_t n) {
    std::size_t pos = 0;
    while (pos < n) {
      std::uint64_t len = 0;
      std::size_t q = pos;
      int shift = 0;
      bool complete = false;
      while (q < n && shift < 64) {
        const auto b = static_cast<unsigned char>(p[q++]);
        len |= static_cast<std::uint64_t>(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) {
          complete = true;
          break;
        }
      }
      if (!complete || n - q < len) break;  // the rest arrives with the next read
      const char* m = p + q;
      ++c_.messages;
      if (o_.decode) {
        if (!msg_.ParseFromArray(m, static_cast<int>(len))) {
          ++c_.bad;
        } else if (msg_.has_record()) {
          record_seen();
          c_.values += static_cast<std::uint64_t>(msg_.record().data_size());
        }
      } else if (len > 0 && static_cast<unsigned char>(m[0]) == kRecordTag) {
        record_seen();
      }
      pos = q + len;
    }
    return pos;
  }

  //! JSONL: one message per line (an empty line is a probe).
  std::size_t lines(char* p, std::size_t n) {
    std::size_t pos = 0;
    while (pos < n) {
      char* nl = static_cast<char*>(std::memchr(p + pos, '\n', n - pos));
      if (!nl) break;
      const std::size_t len = static_cast<std::size_t>(nl - (p + pos));
      if (len > 0) {
        ++c_.messages;
        // Tested before a decode: ParseInsitu writes the decoded strings over the line.
        const bool record = std::string_view(p + pos, len).substr(0, kRecordPrefix.size()) == kRecordPrefix;
        if (o_.decode) {
          *nl = '\0';  // ParseInsitu reads up to the terminator
          doc_.ParseInsitu(p + pos);
          if (doc_.HasParseError() || !doc_.IsObject()) {
            ++c_.bad;
          } else if (record) {
            record_seen();
            auto rec = doc_.FindMember("record");
            if (rec != doc_.MemberEnd() && rec->value.IsObject()) {
              auto data = rec->value.FindMember("data");
              if (data != rec->value.MemberEnd() && data->value.IsObject()) c_.values += data->value.MemberCount();
            }
          }
        } else if (record) {
          record_seen();
        }
      }
      pos += len + 1;
    }
    return pos;
  }

  const Options& o_;
  Counts& c_;
  pb::AirbyteMessageProtobuf msg_;
  rapidjson::Document doc_;
};

bool parse(int argc, char** argv, Options& o) {
  std::string format = "PROTOBUF", mode = "frame";
  o.start = monotonic_seconds();
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&](std::string_view key) -> std::string_view {
      return a.substr(0, key.size()) == key ? a.substr(key.size()) : std::string_view();
    };
    if (auto v = value("--paths="); !v.empty()) {
      std::size_t b = 0;
      while (b <= v.size()) {
        std::size_t e = v.find(',', b);
        if (e == std::string_view::npos) e = v.size();
        if (e > b) o.paths.emplace_back(v.substr(b, e - b));
        b = e + 1;
      }
    } else if (auto f = value("--format="); !f.empty()) {
      format = f;
    } else if (auto m = value("--mode="); !m.empty()) {
      mode = m;
    } else if (auto s = value("--start="); !s.empty()) {
      o.start = std::stod(std::string(s));
    } else {
      std::fprintf(stderr, "sv-bench-socket: unknown argument %s\n", argv[i]);
      return false;
    }
  }
  if (o.paths.empty() || (format != "PROTOBUF" && format != "JSONL") || (mode != "frame" && mode != "decode")) {
    std::fprintf(stderr,
                 "usage: sv-bench-socket --paths=P1,P2,... --format=PROTOBUF|JSONL --mode=frame|decode "
                 "[--start=SECONDS]\n");
    return false;
  }
  o.protobuf = format == "PROTOBUF";
  o.decode = mode == "decode";
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) return 2;
  std::vector<int> fds;
  for (const auto& p : o.paths) {
    const int fd = connect_to(p);
    if (fd < 0) {
      std::fprintf(stderr, "sv-bench-socket: could not connect to %s\n", p.c_str());
      return 1;
    }
    fds.push_back(fd);
  }
  std::vector<Counts> counts(fds.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < fds.size(); ++i) {
    threads.emplace_back([&, i] {
      Drain d(o, counts[i]);
      d.run(fds[i]);
      ::close(fds[i]);
    });
  }
  for (auto& t : threads) t.join();
  Counts all;
  std::string per_socket;
  for (const auto& c : counts) {
    all.records += c.records;
    all.messages += c.messages;
    all.bytes += c.bytes;
    all.values += c.values;
    all.bad += c.bad;
    if (c.first_record >= 0 && (all.first_record < 0 || c.first_record < all.first_record)) {
      all.first_record = c.first_record;
    }
    per_socket += (per_socket.empty() ? "" : ",") + std::to_string(c.records);
  }
  std::printf(
      "{\"records\":%llu,\"messages\":%llu,\"bytes\":%llu,\"values\":%llu,\"bad\":%llu,\"first_record_s\":%.6f,"
      "\"cpu_seconds\":%.6f,\"per_socket\":[%s]}\n",
      static_cast<unsigned long long>(all.records), static_cast<unsigned long long>(all.messages),
      static_cast<unsigned long long>(all.bytes), static_cast<unsigned long long>(all.values),
      static_cast<unsigned long long>(all.bad), all.first_record >= 0 ? all.first_record - o.start : -1.0,
      cpu_seconds(), per_socket.c_str());
  return 0;
}
