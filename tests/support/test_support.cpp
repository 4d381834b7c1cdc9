// tests/support: the shared helpers' own tests — Counter, wait_until and wait_for_exit wake on
// their condition and give up at their deadline; TempDir makes a private directory and removes it
// with its contents.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

using namespace std::chrono_literals;
using sv::testing::Counter;
using sv::testing::TempDir;
using sv::testing::wait_until;

namespace {
std::chrono::milliseconds since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
}
}  // namespace

TEST_CASE("Counter: a waiter wakes when another thread reaches the count, long before the timeout") {
  Counter done;
  std::thread worker([&] {
    std::this_thread::sleep_for(20ms);
    ++done;
    done.increment();
  });
  const auto start = std::chrono::steady_clock::now();
  CHECK(done.wait_at_least(2, 10s));
  CHECK(since(start) < 5s);
  CHECK(done.load() == 2);
  worker.join();
}

TEST_CASE("Counter: a count not reached returns false after the timeout") {
  Counter done;
  ++done;
  const auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(done.wait_at_least(2, 50ms));
  CHECK(since(start) >= 50ms);
  CHECK(done.load() == 1);
  CHECK(done.wait_at_least(1, 0ms));  // already there: no wait
}

TEST_CASE("wait_until: true once the condition holds, false at the deadline") {
  std::atomic<bool> flag{false};
  std::thread setter([&] {
    std::this_thread::sleep_for(20ms);
    flag = true;
  });
  CHECK(wait_until([&] { return flag.load(); }, 10s, 1ms));
  setter.join();

  int checks = 0;
  const auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(wait_until([&] { return ++checks < 0; }, 50ms, 5ms));
  CHECK(since(start) >= 50ms);
  CHECK(checks >= 2);  // checked again at the deadline, not only once
}

TEST_CASE("TempDir: a private directory, files written into it, all removed at the end") {
  std::string path;
  {
    TempDir dir("sv-support-test");
    path = dir.path;
    CHECK(path.rfind("/tmp/sv-support-test-", 0) == 0);
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK(S_ISDIR(st.st_mode));
    CHECK((st.st_mode & 0777) == 0700);
    const std::string f = dir.write("a.txt", "hello");
    CHECK(f == path + "/a.txt");
    CHECK(dir / "a.txt" == f);
    CHECK(dir.file("a.txt") == f);
    std::ifstream in(f);
    std::ostringstream s;
    s << in.rdbuf();
    CHECK(s.str() == "hello");
    std::filesystem::create_directory(dir / "sub");
    dir.write("sub/b.txt", "x");
  }
  CHECK_FALSE(std::filesystem::exists(path));
}

namespace {
//! A child that sleeps `ms` and exits with `code`.
pid_t child_exiting_after(int ms, int code) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::usleep(static_cast<useconds_t>(ms) * 1000);
    ::_exit(code);
  }
  return pid;
}
}  // namespace

TEST_CASE("wait_for_exit: the exit code as soon as the child exits, nullopt at the deadline") {
  const auto start = std::chrono::steady_clock::now();
  CHECK(sv::testing::wait_for_exit(child_exiting_after(30, 3), 10s) == std::optional<int>(3));
  CHECK(since(start) < 5s);

  const pid_t slow = child_exiting_after(10000, 0);
  const auto waited = std::chrono::steady_clock::now();
  CHECK(sv::testing::wait_for_exit(slow, 50ms) == std::nullopt);
  CHECK(since(waited) >= 50ms);
  ::kill(slow, SIGKILL);
  CHECK(sv::testing::wait_for_exit(slow, 10s) == std::optional<int>(128 + SIGKILL));
}
