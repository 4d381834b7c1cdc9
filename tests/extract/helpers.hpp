// tests/extract: shared helpers — temporary directories, reading and decompressing files,
// cursors in the Go connector's format, and driving a FileOutput on an io_context.
#pragma once

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/resource.h>
#include <zlib.h>
#include <zstd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "extract/file_output.hpp"
#include "files.hpp"
#include "temp_dir.hpp"
#include "vitess/cursor.hpp"

namespace test_extract {

namespace fs = std::filesystem;

//! A fresh directory under /tmp, removed at the end of the test.
struct TempDir : sv::testing::TempDir {
  TempDir() : sv::testing::TempDir("sv-extract-test") {}
};

//! The whole file, which must exist and be readable.
inline std::string read_file(const std::string& path) {
  REQUIRE_MESSAGE(std::ifstream(path, std::ios::binary).good(), path);
  return sv::testing::read_file(path);
}

using sv::testing::write_file;

inline bool exists(const std::string& path) { return fs::exists(path); }

//! Names in a directory, sorted.
inline std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

//! Decompresses every gzip member; `members` gets their count.
inline std::string gunzip(const std::string& data, int* members = nullptr) {
  std::string out;
  int count = 0;
  std::size_t pos = 0;
  while (pos < data.size()) {
    z_stream z{};
    REQUIRE(inflateInit2(&z, 15 + 16) == Z_OK);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + pos));
    z.avail_in = static_cast<uInt>(data.size() - pos);
    int rc = Z_OK;
    char buf[4096];
    while (rc != Z_STREAM_END) {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof buf;
      rc = inflate(&z, Z_NO_FLUSH);
      REQUIRE_MESSAGE((rc == Z_OK || rc == Z_STREAM_END), "gzip member is truncated or corrupt");
      out.append(buf, sizeof buf - z.avail_out);
    }
    pos = data.size() - z.avail_in;
    inflateEnd(&z);
    ++count;
  }
  if (members != nullptr) *members = count;
  return out;
}

//! Decompresses every zstd frame; `frames` gets their count.
inline std::string unzstd(const std::string& data, int* frames = nullptr) {
  std::string out;
  int count = 0;
  std::size_t pos = 0;
  while (pos < data.size()) {
    const std::size_t frame = ZSTD_findFrameCompressedSize(data.data() + pos, data.size() - pos);
    REQUIRE_MESSAGE(!ZSTD_isError(frame), "zstd frame is truncated or corrupt");
    ZSTD_DCtx* d = ZSTD_createDCtx();
    ZSTD_inBuffer in{data.data() + pos, frame, 0};
    char buf[4096];
    std::size_t rc = 1;
    while (rc != 0) {
      ZSTD_outBuffer o{buf, sizeof buf, 0};
      rc = ZSTD_decompressStream(d, &o, &in);
      REQUIRE(!ZSTD_isError(rc));
      out.append(buf, o.pos);
      if (in.pos == in.size && o.pos == 0 && rc != 0) FAIL("zstd frame ended early");
    }
    ZSTD_freeDCtx(d);
    pos += frame;
    ++count;
  }
  if (frames != nullptr) *frames = count;
  return out;
}

inline std::string decompress(const std::string& data, sv::extract::Compression c) {
  switch (c) {
    case sv::extract::Compression::none: return data;
    case sv::extract::Compression::gzip: return gunzip(data);
    case sv::extract::Compression::zstd: return unzstd(data);
  }
  return data;
}

//! A full disk for this process while in scope: writes to regular files past `bytes` fail with
//! EFBIG (RLIMIT_FSIZE, SIGXFSZ ignored). /dev/full cannot stand in any more: output files are
//! opened without following links and must be regular files.
struct FileSizeLimit {
  explicit FileSizeLimit(rlim_t bytes) {
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
    old_handler = ::signal(SIGXFSZ, SIG_IGN);
    rlimit limit = saved;
    limit.rlim_cur = bytes;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &limit) == 0);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved);
    ::signal(SIGXFSZ, old_handler);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;
  rlimit saved{};
  sighandler_t old_handler = SIG_DFL;
};

//! A base64 TableCursor: `copying` = a table copy is under way (last_known_pk has a row).
inline std::string cursor(const std::string& shard, const std::string& position, bool copying) {
  auto c = sv::vitess::make_cursor("ks", shard, position);
  if (copying) {
    auto* row = c.mutable_last_known_pk()->add_rows();
    row->add_lengths(1);
    row->set_values("7");
  }
  return sv::vitess::encode_cursor(c);
}

inline sv::airbyte::StreamState state_of(std::map<std::string, std::string> shards) {
  return sv::airbyte::StreamState(std::move(shards));
}

//! Runs one awaitable call of the output on a fresh io_context, like the engine does.
template <class F>
auto run(F&& f) {
  boost::asio::io_context io;
  using T = typename decltype(f())::value_type;
  if constexpr (std::is_void_v<T>) {
    bool done = false;
    boost::asio::co_spawn(io, f(), [&](std::exception_ptr e) {
      REQUIRE(!e);
      done = true;
    });
    io.run();
    REQUIRE(done);
  } else {
    std::optional<T> result;
    boost::asio::co_spawn(io, f(), [&](std::exception_ptr e, T v) {
      REQUIRE(!e);
      result = v;
    });
    io.run();
    REQUIRE(result.has_value());
    return *result;
  }
}

inline bool push(sv::extract::FileOutput& out, std::size_t stream, std::string shard, std::string lines,
                 std::uint64_t count, std::optional<sv::airbyte::StreamState> state = {}) {
  sv::engine::Batch batch(stream, std::move(lines), count, std::move(shard), std::move(state));
  return run([&] { return out.push(std::move(batch)); });
}
inline bool complete(sv::extract::FileOutput& out, std::size_t stream) {
  return run([&] { return out.complete(stream); });
}
inline bool incomplete(sv::extract::FileOutput& out, std::size_t stream) {
  return run([&] {
    sv::Error err = sv::transient_error("stopped");
    return out.incomplete(stream, err);
  });
}
inline void shutdown(sv::extract::FileOutput& out) {
  run([&] { return out.shutdown(); });
}

}  // namespace test_extract
