// tests/util: read_whole_file — the bytes of a file, or the errno that stopped it.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
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

  const auto got = sv::read_whole_file(path);
  CHECK(got.error == 0);
  CHECK(got.text == bytes);

  const auto missing = sv::read_whole_file(std::string(dir) + "/nope");
  CHECK(missing.error == ENOENT);
  CHECK(missing.text.empty());

  const auto directory = sv::read_whole_file(dir);
  CHECK(directory.error == EISDIR);
  CHECK(directory.text.empty());

  ::unlink(path.c_str());
  ::rmdir(dir);
}
