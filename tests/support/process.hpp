// tests/support: waiting for a child process to exit, with a deadline. The wait is on the
// process itself (a pidfd, poll(2)), so it returns as soon as the child exits instead of at the
// next tick of a sleep loop.
#pragma once

#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>

namespace sv::testing {

//! Waits until child `pid` exits or `timeout` passed. Returns its exit code (128 + the signal
//! when a signal ended it) after reaping it, or nullopt on timeout (the child is left running).
inline std::optional<int> wait_for_exit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  for (;;) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      if (pidfd >= 0) ::close(pidfd);
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      if (pidfd >= 0) ::close(pidfd);
      return std::nullopt;
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);  // never 0 before the deadline
    if (pidfd >= 0) {
      pollfd p{pidfd, POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(left.count()));  // readable once the child exited
    } else {
      ::usleep(5000);  // no pidfd (kernel before 5.3): check again shortly
    }
  }
}

}  // namespace sv::testing
