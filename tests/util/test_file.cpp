// tests/util: read_whole_file — the bytes of a file, or the errno that stopped it.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "util/file.hpp"

TEST_CASE("read_whole_file: every byte of a file larger than one read, or the errno") {
  char dir[] = "/tmp/util_file_XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  const std::string path = std::string(dir) + "/f";
  std::string bytes;
  for (int i = 0; i < 200000; ++i) bytes += static_cast<char>(i % 251);
  FILE* f = std::fopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);

  const auto got = sv::read_whole_file(path, {1 << 20});
  CHECK(got.error == 0);
  CHECK(got.text == bytes);

  const auto missing = sv::read_whole_file(std::string(dir) + "/nope", {1 << 20});
  CHECK(missing.error == ENOENT);
  CHECK(missing.text.empty());

  const auto directory = sv::read_whole_file(dir, {1 << 20});
  CHECK(directory.error == EISDIR);
  CHECK(directory.text.empty());

  ::unlink(path.c_str());
  ::rmdir(dir);
}

TEST_CASE("read_whole_file: stops at max_bytes on a file, a device that never ends, or random bytes") {
  char dir[] = "/tmp/util_file_XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  const std::string path = std::string(dir) + "/big";
  {
    FILE* f = std::fopen(path.c_str(), "wb");
    REQUIRE(f != nullptr);
    std::fputs("0123456789", f);
    std::fclose(f);
  }
  const auto exact = sv::read_whole_file(path, {10});
  CHECK(exact.error == 0);
  CHECK(exact.text == "0123456789");
  const auto over = sv::read_whole_file(path, {9});
  CHECK(over.too_large);
  CHECK(over.error == EFBIG);
  CHECK(over.text.empty());
  for (const char* endless : {"/dev/zero", "/dev/urandom"}) {
    CAPTURE(endless);
    const auto capped = sv::read_whole_file(endless, {1 << 20});
    CHECK(capped.too_large);
    CHECK(capped.error == EFBIG);
    CHECK(capped.text.empty());
  }
  ::unlink(path.c_str());
  ::rmdir(dir);
}

TEST_CASE("read_whole_file: regular_only refuses a link, a FIFO and a device without blocking") {
  namespace fs = std::filesystem;
  char dir[] = "/tmp/util_file_XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  const std::string file = std::string(dir) + "/f";
  const std::string link = std::string(dir) + "/link";
  const std::string fifo = std::string(dir) + "/fifo";
  {
    FILE* f = std::fopen(file.c_str(), "wb");
    REQUIRE(f != nullptr);
    std::fputs("{}", f);
    std::fclose(f);
  }
  fs::create_symlink(file, link);
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const sv::ReadLimits regular{1 << 20, true};
  CHECK(sv::read_whole_file(file, regular).text == "{}");
  for (const std::string& path : {link, fifo, std::string("/dev/zero")}) {
    CAPTURE(path);
    const auto refused = sv::read_whole_file(path, regular);
    CHECK(refused.not_regular);
    CHECK(refused.error != 0);
    CHECK(refused.text.empty());
  }
  // Without regular_only a link is followed (the connector's own inputs may be links or pipes).
  CHECK(sv::read_whole_file(link, {1 << 20}).text == "{}");
  fs::remove_all(dir);
}
