// tests/extract: FileSink — exact bytes, members/frames per checkpoint, truncation, errors.
#include <sys/stat.h>
#include <unistd.h>

#include "extract/file_sink.hpp"
#include "helpers.hpp"

using namespace test_extract;
using sv::Ok;
using sv::Status;
using sv::extract::Compression;
using sv::extract::FileSink;

namespace {
//! Incompressible bytes (so compressed output passes the flush threshold).
std::string noise(std::size_t n) {
  std::string s(n, '\0');
  std::uint64_t x = 88172645463325252ull;
  for (auto& c : s) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  return s;
}
}  // namespace

TEST_CASE("plain sink: writes, checkpoints, finish renames") {
  TempDir dir;
  auto sink = FileSink::open(dir / "a.jsonl.part", Compression::none, 0);
  REQUIRE(sink.ok());
  REQUIRE((*sink)->write("{\"id\":1}\n").ok());
  CHECK((*sink)->checkpointed_bytes() == 0);
  REQUIRE((*sink)->checkpoint().ok());
  CHECK((*sink)->checkpointed_bytes() == 9);
  CHECK(read_file(dir / "a.jsonl.part") == "{\"id\":1}\n");
  REQUIRE((*sink)->write("{\"id\":2}\n").ok());
  REQUIRE((*sink)->finish(dir / "a.jsonl").ok());
  CHECK(list_dir(dir.path) == std::vector<std::string>{"a.jsonl"});
  CHECK(read_file(dir / "a.jsonl") == "{\"id\":1}\n{\"id\":2}\n");
}

TEST_CASE("gzip and zstd: one member/frame per checkpoint, no empty ones") {
  for (Compression c : {Compression::gzip, Compression::zstd}) {
    CAPTURE(sv::extract::to_string(c));
    TempDir dir;
    auto sink = FileSink::open(dir / "x.part", c, 0);
    REQUIRE(sink.ok());
    REQUIRE((*sink)->write("first\n").ok());
    REQUIRE((*sink)->write("second\n").ok());
    REQUIRE((*sink)->checkpoint().ok());
    const auto after_one = (*sink)->checkpointed_bytes();
    REQUIRE((*sink)->checkpoint().ok());  // nothing new: no empty member
    CHECK((*sink)->checkpointed_bytes() == after_one);
    REQUIRE((*sink)->write("third\n").ok());
    REQUIRE((*sink)->checkpoint().ok());
    REQUIRE((*sink)->finish(dir / "x").ok());
    const std::string data = read_file(dir / "x");
    CHECK(data.size() == (*sink)->checkpointed_bytes());
    int parts = 0;
    const std::string text = c == Compression::gzip ? gunzip(data, &parts) : unzstd(data, &parts);
    CHECK(text == "first\nsecond\nthird\n");
    CHECK(parts == 2);
    // The prefix at the first checkpoint is a valid file by itself.
    CHECK(decompress(data.substr(0, after_one), c) == "first\nsecond\n");
  }
}

TEST_CASE("gzip: level 1 deflate with a gzip wrapper") {
  TempDir dir;
  auto sink = FileSink::open(dir / "x.part", Compression::gzip, 0);
  REQUIRE(sink.ok());
  REQUIRE((*sink)->write(std::string(100000, 'a')).ok());
  REQUIRE((*sink)->checkpoint().ok());
  const std::string data = read_file(dir / "x.part");
  REQUIRE(data.size() > 10);
  CHECK(static_cast<unsigned char>(data[0]) == 0x1f);
  CHECK(static_cast<unsigned char>(data[1]) == 0x8b);
  CHECK(static_cast<unsigned char>(data[8]) == 4);  // XFL 4 = fastest compression
  CHECK(gunzip(data) == std::string(100000, 'a'));
}

TEST_CASE("an empty compressed file gets one empty member/frame at finish") {
  for (Compression c : {Compression::gzip, Compression::zstd}) {
    TempDir dir;
    auto sink = FileSink::open(dir / "e.part", c, 0);
    REQUIRE(sink.ok());
    REQUIRE((*sink)->finish(dir / "e").ok());
    const std::string data = read_file(dir / "e");
    CHECK(!data.empty());
    int parts = 0;
    CHECK((c == Compression::gzip ? gunzip(data, &parts) : unzstd(data, &parts)) == "");
    CHECK(parts == 1);
  }
  TempDir dir;
  auto sink = FileSink::open(dir / "e.part", Compression::none, 0);
  REQUIRE(sink.ok());
  REQUIRE((*sink)->finish(dir / "e").ok());
  CHECK(read_file(dir / "e") == "");
}

TEST_CASE("large writes reach the file in chunks before the checkpoint") {
  TempDir dir;
  auto sink = FileSink::open(dir / "big.part", Compression::none, 0);
  REQUIRE(sink.ok());
  const std::string chunk(300000, 'x');
  for (int i = 0; i < 5; ++i) REQUIRE((*sink)->write(chunk).ok());
  CHECK((*sink)->written_bytes() == 1200000);  // flushed at >= 1 MiB buffered
  CHECK((*sink)->checkpointed_bytes() == 0);
  REQUIRE((*sink)->checkpoint().ok());
  CHECK((*sink)->checkpointed_bytes() == 1500000);
  CHECK(read_file(dir / "big.part").size() == 1500000);
}

TEST_CASE("open at a length truncates; a new member follows the old ones") {
  TempDir dir;
  std::uint64_t at = 0;
  {
    auto sink = FileSink::open(dir / "r.part", Compression::gzip, 0);
    REQUIRE(sink.ok());
    REQUIRE((*sink)->write("kept\n").ok());
    REQUIRE((*sink)->checkpoint().ok());
    at = (*sink)->checkpointed_bytes();
    REQUIRE((*sink)->write(noise(3000000)).ok());  // flushed, never checkpointed
    CHECK((*sink)->written_bytes() > at);
  }
  CHECK(read_file(dir / "r.part").size() > at);
  auto sink = FileSink::open(dir / "r.part", Compression::gzip, at);
  REQUIRE(sink.ok());
  CHECK(read_file(dir / "r.part").size() == at);
  REQUIRE((*sink)->write("added\n").ok());
  REQUIRE((*sink)->finish(dir / "r").ok());
  CHECK(gunzip(read_file(dir / "r")) == "kept\nadded\n");
}

TEST_CASE("rollback drops what came after the last checkpoint") {
  for (Compression c : {Compression::none, Compression::gzip, Compression::zstd}) {
    TempDir dir;
    auto sink = FileSink::open(dir / "b.part", c, 0);
    REQUIRE(sink.ok());
    REQUIRE((*sink)->write("one\n").ok());
    REQUIRE((*sink)->checkpoint().ok());
    REQUIRE((*sink)->write(noise(2000000)).ok());
    CHECK((*sink)->written_bytes() > (*sink)->checkpointed_bytes());
    REQUIRE((*sink)->rollback().ok());
    CHECK((*sink)->written_bytes() == (*sink)->checkpointed_bytes());
    REQUIRE((*sink)->write("two\n").ok());
    REQUIRE((*sink)->finish(dir / "b").ok());
    CHECK(decompress(read_file(dir / "b"), c) == "one\ntwo\n");
  }
}

TEST_CASE("a file shorter than its checkpoint is a config_error naming it") {
  TempDir dir;
  write_file(dir / "s.part", "abc");
  auto sink = FileSink::open(dir / "s.part", Compression::none, 10);
  REQUIRE_FALSE(sink.ok());
  CHECK(sink.error().type == sv::FailureType::config_error);
  CHECK(sink.error().message == dir / "s.part" + " is shorter than its checkpoint (3 bytes, 10 recorded); delete " +
                                    dir.path + " to start over");
  CHECK(read_file(dir / "s.part") == "abc");
}

TEST_CASE("I/O errors are values naming the path") {
  TempDir dir;
  SUBCASE("open in a missing directory") {
    auto sink = FileSink::open(dir / "nope/x.part", Compression::none, 0);
    REQUIRE_FALSE(sink.ok());
    CHECK(sink.error().type == sv::FailureType::config_error);
    CHECK(sink.error().message == "cannot open " + dir / "nope/x.part" + ": No such file or directory");
  }
  SUBCASE("disk full (a file size limit)") {
    auto sink = FileSink::open(dir / "full.part", Compression::none, 0);
    REQUIRE(sink.ok());
    REQUIRE((*sink)->write("data\n").ok());  // buffered
    Status st = Ok{};
    {
      FileSizeLimit full(2);
      st = (*sink)->checkpoint();
    }
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().type == sv::FailureType::config_error);
    CHECK(st.error().message == "cannot write " + dir / "full.part" + ": File too large");
  }
  SUBCASE("rename onto a directory") {
    fs::create_directory(dir / "taken");
    fs::create_directory(dir / "taken/inner");
    auto sink = FileSink::open(dir / "t.part", Compression::none, 0);
    REQUIRE(sink.ok());
    auto st = (*sink)->finish(dir / "taken");
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().message == "cannot rename " + dir / "t.part" + " to " + dir / "taken" + ": Is a directory");
    CHECK(exists(dir / "t.part"));
  }
}

TEST_CASE("many small writes across flushes decompress to the same bytes") {
  for (Compression c : {Compression::none, Compression::gzip, Compression::zstd}) {
    TempDir dir;
    auto sink = FileSink::open(dir / "m.part", c, 0);
    REQUIRE(sink.ok());
    std::string expected;
    const std::string n = noise(50000);
    for (int i = 0; i < 20000; ++i) {
      std::string line = std::to_string(i) + "," + n.substr(static_cast<std::size_t>(i) * 2 % 49000, 150) + "\n";
      expected += line;
      REQUIRE((*sink)->write(line).ok());
      if (i % 7000 == 6999) REQUIRE((*sink)->checkpoint().ok());
    }
    REQUIRE((*sink)->finish(dir / "m").ok());
    CHECK(decompress(read_file(dir / "m"), c) == expected);
  }
}

TEST_CASE(
    "a symbolic link, a FIFO or a device at an output path is refused; a link's target is "
    "untouched") {
  TempDir dir;
  TempDir outside;
  const std::string target = outside / "precious";
  write_file(target, "keep me\n");
  const std::string part = dir / "t.jsonl.part";
  const std::string advice =
      ", not a regular file: extract writes only regular files in its output directory; remove "
      "it or choose another --output-dir";
  SUBCASE("a link to a file outside the directory (resume at a length: truncate and append)") {
    fs::create_symlink(target, part);
    auto sink = FileSink::open(part, Compression::none, 3);
    REQUIRE_FALSE(sink.ok());
    CHECK(sink.error().type == sv::FailureType::config_error);
    CHECK(sink.error().message == part + " is a symbolic link" + advice);
    CHECK(read_file(target) == "keep me\n");
    CHECK(fs::is_symlink(part));
  }
  SUBCASE("a dangling link: nothing is created at its target") {
    fs::create_symlink(outside / "new", part);
    auto sink = FileSink::open(part, Compression::gzip, 0);
    REQUIRE_FALSE(sink.ok());
    CHECK(sink.error().message == part + " is a symbolic link" + advice);
    CHECK_FALSE(fs::exists(outside / "new"));
  }
  SUBCASE("a FIFO nobody reads: refused at once instead of blocking") {
    REQUIRE(::mkfifo(part.c_str(), 0600) == 0);
    auto sink = FileSink::open(part, Compression::none, 0);
    REQUIRE_FALSE(sink.ok());
    CHECK(sink.error().message == part + " is a FIFO" + advice);
  }
  SUBCASE("a device") {
    auto opened = sv::extract::open_output_file("/dev/null");
    REQUIRE_FALSE(opened.ok());
    CHECK(opened.error().message == std::string("/dev/null is a device or socket") + advice);
  }
}
