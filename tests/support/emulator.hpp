// tests/support: the one launcher of the vtgate-emulator binary for every suite. It starts
// $VTGATE_EMULATOR with the test's flags on free loopback ports (--port-file), waits until the
// port file says both servers listen, and stops the process (SIGTERM, then SIGKILL) when the
// object goes away. Failures throw std::runtime_error with the emulator's stderr.
#pragma once

#include <chrono>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "child.hpp"
#include "files.hpp"
#include "http.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

namespace sv::testing {

class EmulatorProcess {
 public:
  //! Starts the emulator with `flags` (the port file is added) and waits up to `timeout` until it
  //! serves. stdout goes to <dir>/emu.out, stderr to <dir>/emu.err (the test's stderr when
  //! EMU_TEST_VERBOSE is set).
  explicit EmulatorProcess(const std::vector<std::string>& flags,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10))
      : dir_("sv-emulator") {
    const std::string exe = env_or("VTGATE_EMULATOR", "");
    if (exe.empty())
      throw std::runtime_error("VTGATE_EMULATOR must name the vtgate-emulator binary (meson test sets it)");
    std::vector<std::string> argv{exe, "--port-file=" + dir_.file("ports")};
    argv.insert(argv.end(), flags.begin(), flags.end());
    const auto t0 = std::chrono::steady_clock::now();
    child_ = Child::spawn(argv, dir_.file("emu.out"), std::getenv("EMU_TEST_VERBOSE") ? "" : err_log());
    // The port file appears atomically once both servers listen; nothing signals it, so it is
    // checked every 5 ms. A child that exits meanwhile ends the wait at once.
    std::string ports;
    std::optional<int> exit_code;
    const bool up = wait_until(
        [&] {
          ports = read_file(dir_.file("ports"));
          if (ports.find('}') != std::string::npos) return true;
          exit_code = child_.exited();
          return exit_code.has_value();
        },
        timeout, std::chrono::milliseconds(5));
    if (exit_code) {
      throw std::runtime_error("vtgate-emulator exited during startup (" + std::to_string(*exit_code) +
                               "): " + read_file(err_log()));
    }
    if (!up) throw std::runtime_error("vtgate-emulator did not start in time: " + read_file(err_log()));
    startup_ = std::chrono::steady_clock::now() - t0;
    grpc_port_ = port_field(ports, "grpc_port");
    control_port_ = port_field(ports, "control_port");
    mysql_port_ = port_field(ports, "mysql_port");
  }
  ~EmulatorProcess() { child_.stop(std::chrono::seconds(5)); }
  EmulatorProcess(const EmulatorProcess&) = delete;
  EmulatorProcess& operator=(const EmulatorProcess&) = delete;

  int grpc_port() const { return grpc_port_; }
  int control_port() const { return control_port_; }
  int mysql_port() const { return mysql_port_; }  //!< 0 without a MySQL front (synthetic backend)
  std::string target() const { return "127.0.0.1:" + std::to_string(grpc_port_); }
  std::chrono::steady_clock::duration startup_time() const { return startup_; }
  pid_t pid() const { return child_.pid; }
  const TempDir& dir() const { return dir_; }
  std::string err_log() const { return dir_.file("emu.err"); }

  //! One control API request: {status, body}; {0, ""} when the API does not answer.
  std::pair<int, std::string> control(const std::string& method, const std::string& target) const {
    return http_request(control_port_, method, target);
  }
  //! Stops it now (SIGKILL): a test of what the connector does when vtgate goes away.
  void kill_now() { child_.kill_now(); }

 private:
  //! An integer member of the one-line port file ({"grpc_port":N,...}); 0 when absent.
  static int port_field(const std::string& json, const std::string& key) {
    const auto at = json.find("\"" + key + "\":");
    return at == std::string::npos ? 0 : std::atoi(json.c_str() + at + key.size() + 3);
  }

  TempDir dir_;
  Child child_;
  int grpc_port_ = 0, control_port_ = 0, mysql_port_ = 0;
  std::chrono::steady_clock::duration startup_{};
};

}  // namespace sv::testing
