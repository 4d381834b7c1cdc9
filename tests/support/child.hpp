// tests/support: a child process a test starts (the built programs, the emulator), with its
// stdout and stderr in files or stdout on a pipe; the destructor kills what is still running, and
// the child dies with the test process even when a crash skips the destructors.
#pragma once

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "process.hpp"

namespace sv::testing {

class Child {
 public:
  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  Child(Child&& o) noexcept : pid(std::exchange(o.pid, -1)), stdout_pipe(std::exchange(o.stdout_pipe, -1)) {}
  Child& operator=(Child&& o) noexcept {
    std::swap(pid, o.pid);
    std::swap(stdout_pipe, o.stdout_pipe);
    return *this;
  }
  ~Child() {
    if (stdout_pipe >= 0) ::close(stdout_pipe);
    kill_now();
  }

  //! Starts argv[0] (a path) with stdout to `out_path` (or a pipe: stdout_pipe) and stderr to
  //! `err_path` ("" = the test's stderr); `env` entries (NAME=VALUE) are added to its environment.
  static Child spawn(const std::vector<std::string>& argv, const std::string& out_path, const std::string& err_path,
                     bool pipe_stdout = false, const std::vector<std::string>& env = {}) {
    int fds[2] = {-1, -1};
    if (pipe_stdout && ::pipe(fds) != 0) throw std::runtime_error("pipe failed");
    // Signals stay blocked across the fork until the child has dropped the test's handlers
    // (doctest's crash reporter): a SIGTERM sent before exec then ends the child quietly.
    sigset_t all, old;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    Child c;
    c.pid = ::fork();
    if (c.pid == 0) {
      for (int sig : {SIGTERM, SIGINT, SIGSEGV, SIGABRT, SIGFPE, SIGILL, SIGBUS}) ::signal(sig, SIG_DFL);
      ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int out = pipe_stdout ? fds[1] : ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(out, 1);
      if (!err_path.empty()) ::dup2(::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), 2);
      if (pipe_stdout) ::close(fds[0]);
      for (const auto& kv : env) ::putenv(const_cast<char*>(kv.c_str()));
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (c.pid < 0) throw std::runtime_error("fork failed");
    if (pipe_stdout) {
      ::close(fds[1]);
      c.stdout_pipe = fds[0];
    }
    return c;
  }

  //! Waits up to `timeout` for the exit code (128 + signal); kills (SIGKILL) and returns -1 on
  //! timeout.
  int wait(std::chrono::milliseconds timeout) {
    if (pid <= 0) return -1;  // never started, or already reaped
    if (const auto code = wait_for_exit(pid, timeout)) {
      pid = -1;
      return *code;
    }
    kill_now();
    return -1;
  }
  //! The exit code when the child has exited (it is reaped then), nullopt while it runs.
  std::optional<int> exited() {
    int status = 0;
    if (pid <= 0 || ::waitpid(pid, &status, WNOHANG) != pid) return std::nullopt;
    pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  //! SIGTERM, then SIGKILL when it has not exited after `grace`.
  void stop(std::chrono::milliseconds grace) {
    if (pid <= 0) return;
    ::kill(pid, SIGTERM);
    if (wait_for_exit(pid, grace)) {
      pid = -1;
      return;
    }
    kill_now();
  }
  void kill_now() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      int status = 0;
      ::waitpid(pid, &status, 0);
      pid = -1;
    }
  }

  pid_t pid = -1;
  int stdout_pipe = -1;
};

}  // namespace sv::testing
