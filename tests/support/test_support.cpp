// tests/support: the shared helpers' own tests — Counter, wait_until and wait_for_exit wake on
// their condition and give up at their deadline; TempDir makes a private directory and removes it
// with its contents; Child, the emulator launcher (driven with a stand-in script), SilentPort,
// HTTP and the file helpers do what the suites rely on.
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

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstdlib>
#include <stdexcept>

#include "child.hpp"
#include "emulator.hpp"
#include "files.hpp"
#include "http.hpp"
#include "loopback.hpp"
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

TEST_CASE("files: read_file of what write_file wrote; a missing file reads as empty; env_or") {
  TempDir dir("sv-support-test");
  sv::testing::write_file(dir / "f", std::string("a\0b\n", 4));
  CHECK(sv::testing::read_file(dir / "f") == std::string("a\0b\n", 4));
  sv::testing::write_file(dir / "f", "x");
  CHECK(sv::testing::read_file(dir / "f") == "x");
  CHECK(sv::testing::read_file(dir / "missing") == "");
  ::setenv("SV_SUPPORT_TEST_VAR", "set", 1);
  CHECK(sv::testing::env_or("SV_SUPPORT_TEST_VAR", "fallback") == "set");
  ::unsetenv("SV_SUPPORT_TEST_VAR");
  CHECK(sv::testing::env_or("SV_SUPPORT_TEST_VAR", "fallback") == "fallback");
}

TEST_CASE("Child: output in files or a pipe, extra environment, exit codes, kill at the deadline") {
  TempDir dir("sv-support-test");
  auto c = sv::testing::Child::spawn({"/bin/sh", "-c", "echo out; echo err >&2; echo $SV_X; exit 4"}, dir / "out",
                                     dir / "err", false, {"SV_X=extra"});
  CHECK(c.wait(10s) == 4);
  CHECK(c.pid == -1);
  CHECK(sv::testing::read_file(dir / "out") == "out\nextra\n");
  CHECK(sv::testing::read_file(dir / "err") == "err\n");

  auto p = sv::testing::Child::spawn({"/bin/sh", "-c", "printf piped"}, "", dir / "err2", true);
  std::string got;
  char buf[64];
  for (ssize_t n; (n = ::read(p.stdout_pipe, buf, sizeof buf)) > 0;) got.append(buf, static_cast<std::size_t>(n));
  CHECK(got == "piped");
  CHECK(p.wait(10s) == 0);

  auto slow = sv::testing::Child::spawn({"/bin/sleep", "30"}, "/dev/null", dir / "err3");
  CHECK(slow.exited() == std::nullopt);
  const auto start = std::chrono::steady_clock::now();
  CHECK(slow.wait(50ms) == -1);  // killed at the deadline
  CHECK(since(start) < 5s);
  CHECK(slow.pid == -1);
  CHECK(slow.wait(10ms) == -1);  // nothing left to wait for

  auto term = sv::testing::Child::spawn({"/bin/sleep", "30"}, "/dev/null", dir / "err4");
  const pid_t pid = term.pid;
  term.stop(5s);  // SIGTERM ends sleep at once
  CHECK(term.pid == -1);
  CHECK(::kill(pid, 0) != 0);  // reaped: the pid is gone
}

namespace {
//! A stand-in for vtgate-emulator: a script that writes the port file as the emulator does (or
//! fails), so the launcher's own behaviour is tested without the real binary.
std::string fake_emulator(const TempDir& dir, const std::string& body) {
  const std::string path = dir.write("fake-emulator",
                                     "#!/bin/sh\n"
                                     "ports=${1#--port-file=}\n" +
                                         body);
  ::chmod(path.c_str(), 0755);
  ::setenv("VTGATE_EMULATOR", path.c_str(), 1);
  return path;
}
}  // namespace

TEST_CASE("EmulatorProcess: ports from the port file, flags passed on, stopped at the end") {
  TempDir dir("sv-support-test");
  fake_emulator(dir, "shift; echo \"$@\" > " + (dir / "flags") +
                         "\n"
                         "echo '{\"grpc_port\":4101,\"control_port\":4102,\"mysql_port\":4103}' > \"$ports\"\n"
                         "exec sleep 30\n");
  pid_t pid = 0;
  {
    sv::testing::EmulatorProcess emu({"--shards=2", "--rows=5"});
    pid = emu.pid();
    CHECK(pid > 0);
    CHECK(emu.grpc_port() == 4101);
    CHECK(emu.control_port() == 4102);
    CHECK(emu.mysql_port() == 4103);
    CHECK(emu.target() == "127.0.0.1:4101");
    CHECK(emu.startup_time() < 5s);
    CHECK(sv::testing::read_file(dir / "flags") == "--shards=2 --rows=5\n");
  }
  CHECK(::kill(pid, 0) != 0);  // stopped and reaped by the destructor
  ::unsetenv("VTGATE_EMULATOR");
}

TEST_CASE("EmulatorProcess: an emulator that exits during startup fails at once with its stderr") {
  TempDir dir("sv-support-test");
  fake_emulator(dir, "echo 'bad flag --nope' >&2; exit 2\n");
  const auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH_AS(sv::testing::EmulatorProcess({"--nope"}),
                       "vtgate-emulator exited during startup (2): bad flag --nope\n", std::runtime_error);
  CHECK(since(start) < 5s);
  fake_emulator(dir, "exec sleep 30\n");
  CHECK_THROWS_WITH_AS(sv::testing::EmulatorProcess({}, 100ms),
                       "vtgate-emulator did not start in time: ", std::runtime_error);
  ::unsetenv("VTGATE_EMULATOR");
  CHECK_THROWS_WITH_AS(sv::testing::EmulatorProcess({}),
                       "VTGATE_EMULATOR must name the vtgate-emulator binary (meson test sets it)", std::runtime_error);
}

TEST_CASE("SilentPort: connections are accepted and nothing is ever sent") {
  sv::testing::SilentPort silent;
  CHECK(silent.port > 0);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(silent.port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  pollfd p{fd, POLLIN, 0};
  CHECK(::poll(&p, 1, 100) == 0);  // no byte, no close within 100 ms
  ::close(fd);
}

TEST_CASE("http_request: status and body of a loopback server's answer; {0, \"\"} when nothing listens") {
  sv::testing::LoopbackListener server;
  const int port = server.port();
  std::string request;
  std::thread answer([&] {
    const int c = ::accept(server.fd(), nullptr, nullptr);
    char buf[1024];
    const ssize_t n = ::read(c, buf, sizeof buf);
    if (n > 0) request.assign(buf, static_cast<std::size_t>(n));
    const std::string resp = "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope";
    CHECK(::write(c, resp.data(), resp.size()) == static_cast<ssize_t>(resp.size()));
    ::close(c);
  });
  CHECK(sv::testing::http_request(port, "POST", "/fault/x?y=1") == std::make_pair(404, std::string("nope")));
  answer.join();
  CHECK(request == "POST /fault/x?y=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  CHECK(sv::testing::http_request(1, "GET", "/") == std::make_pair(0, std::string()));
  CHECK_THROWS_AS(sv::testing::http(1, "GET", "/"), std::runtime_error);
}
