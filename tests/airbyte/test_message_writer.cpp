#include <doctest/doctest.h>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "airbyte/message_writer.hpp"

using sv::airbyte::MessageWriter;

namespace {

std::atomic<int> g_alarms{0};
void on_alarm(int) { g_alarms.fetch_add(1, std::memory_order_relaxed); }

std::string payload(std::size_t size) {
  std::string s;
  s.reserve(size);
  for (std::size_t i = 0; s.size() < size; ++i) s += "{\"n\":" + std::to_string(i) + "}\n";
  s.resize(size);
  return s;
}

//! Reads everything from fd until EOF, slowly (small reads, short sleeps) so the writer keeps
//! hitting a full socket buffer.
std::string slow_drain(int fd) {
  std::string got;
  char buf[4096];
  for (int i = 0; i < 1000000; ++i) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      got.append(buf, static_cast<std::size_t>(n));
      // The sleep is the behaviour under test (a slow reader), not a wait for a condition.
      if (i % 8 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  return got;
}

void small_buffers(int a, int b) {
  int size = 4096;
  ::setsockopt(a, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  ::setsockopt(b, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
}

}  // namespace

TEST_CASE("message writer: short writes and EINTR from a signal storm lose nothing") {
  ::signal(SIGPIPE, SIG_IGN);
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  small_buffers(sv[0], sv[1]);

  // Only this thread takes SIGALRM, so its write(2) calls are the ones interrupted.
  sigset_t alarm_set;
  sigemptyset(&alarm_set);
  sigaddset(&alarm_set, SIGALRM);
  pthread_sigmask(SIG_BLOCK, &alarm_set, nullptr);
  std::string got;
  std::thread reader([&] { got = slow_drain(sv[1]); });
  pthread_sigmask(SIG_UNBLOCK, &alarm_set, nullptr);

  struct sigaction sa {};
  sa.sa_handler = on_alarm;  // no SA_RESTART: blocked write(2) returns early
  sigemptyset(&sa.sa_mask);
  struct sigaction old {};
  ::sigaction(SIGALRM, &sa, &old);
  itimerval every{{0, 500}, {0, 500}};
  ::setitimer(ITIMER_REAL, &every, nullptr);

  const std::string data = payload(3 * 1024 * 1024);
  MessageWriter w(sv[0], 64 * 1024);
  std::size_t pos = 0;
  bool ok = true;
  while (pos < data.size() && ok) {
    // A mix of small queued writes and chunks above the threshold that go straight out.
    const std::size_t n = std::min<std::size_t>(data.size() - pos, (pos / 7919) % 3 == 0 ? 200 * 1024 : 3000);
    ok = w.write(std::string_view(data).substr(pos, n)).ok();
    pos += n;
  }
  ok = ok && w.flush().ok();
  itimerval off{};
  ::setitimer(ITIMER_REAL, &off, nullptr);
  ::sigaction(SIGALRM, &old, nullptr);
  ::shutdown(sv[0], SHUT_WR);
  reader.join();
  ::close(sv[0]);
  ::close(sv[1]);

  CHECK(ok);
  CHECK(g_alarms.load() > 0);
  CHECK(w.bytes_written() == data.size());
  CHECK(got.size() == data.size());
  CHECK(got == data);
}

TEST_CASE("message writer: a non-blocking stdout (EAGAIN) is waited for") {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  small_buffers(sv[0], sv[1]);
  ::fcntl(sv[0], F_SETFL, ::fcntl(sv[0], F_GETFL) | O_NONBLOCK);
  std::string got;
  std::thread reader([&] { got = slow_drain(sv[1]); });
  const std::string data = payload(1024 * 1024);
  MessageWriter w(sv[0], 16 * 1024);
  CHECK(w.write_now(data).ok());
  ::shutdown(sv[0], SHUT_WR);
  reader.join();
  ::close(sv[0]);
  ::close(sv[1]);
  CHECK(got == data);
}

TEST_CASE("message writer: small lines wait in the buffer until the threshold or flush") {
  int p[2];
  REQUIRE(::pipe(p) == 0);
  ::fcntl(p[0], F_SETFL, O_NONBLOCK);
  MessageWriter w(p[1], 100);
  REQUIRE(w.write("{\"a\":1}\n").ok());
  char buf[256];
  CHECK(::read(p[0], buf, sizeof buf) == -1);  // nothing written yet
  CHECK(w.pending() == 8);
  REQUIRE(w.flush().ok());
  CHECK(::read(p[0], buf, sizeof buf) == 8);
  CHECK(w.pending() == 0);
  const std::string big(150, 'x');
  REQUIRE(w.write("ab").ok());
  REQUIRE(w.write(big).ok());  // above the threshold: queued bytes first, then the chunk
  const ssize_t n = ::read(p[0], buf, sizeof buf);
  REQUIRE(n == 152);
  CHECK(std::string(buf, 2) == "ab");
  ::close(p[0]);
  ::close(p[1]);
}

TEST_CASE("message writer: EPIPE is an error value, and stays one") {
  ::signal(SIGPIPE, SIG_IGN);
  int p[2];
  REQUIRE(::pipe(p) == 0);
  ::close(p[0]);
  MessageWriter w(p[1], 1024);
  REQUIRE(w.write("{}\n").ok());  // only queued
  auto s = w.flush();
  REQUIRE(!s.ok());
  CHECK(s.error().message == "stdout was closed by its reader (EPIPE: Broken pipe)");
  CHECK(w.output_closed());
  CHECK(w.failed());
  CHECK(w.write_now("{}\n").error().message == s.error().message);
  CHECK(w.bytes_written() == 0);
  ::close(p[1]);
}
