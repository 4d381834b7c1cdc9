// src/emulator/mysql: MariaDB instance launcher (see mariadb_instance.hpp).
#include "emulator/mysql/mariadb_instance.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace sv::emulator::mysql {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr const char* kMariadbd = "/usr/sbin/mariadbd";
constexpr const char* kInstallDb = "/usr/bin/mariadb-install-db";

// Small memory, fast and unsafe durability: these servers hold test data only.
std::vector<std::string> common_server_args() {
  return {"--no-defaults",
          "--innodb-buffer-pool-size=16M",
          "--innodb-log-file-size=4M",
          "--innodb-log-buffer-size=1M",
          "--key-buffer-size=1M",
          "--aria-pagecache-buffer-size=1M",
          "--skip-innodb-doublewrite",
          "--innodb-flush-log-at-trx-commit=2",
          "--performance-schema=OFF",
          "--skip-name-resolve",
          "--character-set-server=utf8mb4",
          "--collation-server=utf8mb4_general_ci"};
}

// Spawns argv with stdout+stderr appended to `log`; returns the pid.
Result<pid_t> spawn(const std::vector<std::string>& argv, const std::string& log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return system_error(fmt::format("cannot run {}: {}", argv[0], std::strerror(rc)));
  return pid;
}

std::string tail_of(const std::string& path, size_t max_bytes = 1500) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > max_bytes ? s.substr(s.size() - max_bytes) : s;
}

}  // namespace

Result<uint16_t> free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return system_error("socket() failed", std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return system_error("cannot find a free loopback port", std::strerror(errno));
  }
  ::close(fd);
  return static_cast<uint16_t>(ntohs(addr.sin_port));
}

MariaDbInstance::MariaDbInstance(InstanceOptions options) : options_(std::move(options)) {}

MariaDbInstance::~MariaDbInstance() {
  (void)stop();
  if (options_.remove_dir_on_stop && !options_.dir.empty()) {
    std::error_code ec;
    fs::remove_all(options_.dir, ec);
  }
}

namespace {

// Where the installed-once template data dir lives: keyed by the mariadbd build, so an upgrade
// gets a new one. Shared by every instance, test process and scripts/mariadb.
std::string template_dir() {
  struct stat st {};
  ::stat(kMariadbd, &st);
  return fmt::format("{}/sv-mariadb-template-{}-{}-{}", fs::temp_directory_path().string(), ::geteuid(),
                     static_cast<long long>(st.st_size), static_cast<long long>(st.st_mtime));
}

// Runs mariadb-install-db into `data`.
Status run_install_db(const std::string& data, const std::string& log) {
  std::vector<std::string> argv = {kInstallDb,
                                   "--no-defaults",
                                   "--datadir=" + data,
                                   "--auth-root-authentication-method=normal",
                                   "--skip-test-db",
                                   "--innodb-buffer-pool-size=16M",
                                   "--innodb-log-file-size=4M",
                                   "--skip-name-resolve"};
  if (::geteuid() == 0) argv.push_back("--user=root");
  auto pid = spawn(argv, log);
  if (!pid) return pid.error();
  int status = 0;
  while (::waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return system_error("mariadb-install-db failed", tail_of(log));
  return Ok{};
}

}  // namespace

Status MariaDbInstance::install() {
  std::error_code ec;
  fs::create_directories(options_.dir, ec);
  if (ec) return system_error(fmt::format("cannot create {}: {}", options_.dir, ec.message()));
  const std::string data = options_.dir + "/data";
  if (fs::exists(data + "/mysql")) return Ok{};  // already installed: restart keeps data
  // mariadb-install-db costs 1-5 s of CPU; a copy of an installed template costs ~0.1 s.
  const std::string tmpl = template_dir();
  if (!fs::exists(tmpl + "/mysql")) {
    std::string staging = tmpl + fmt::format(".{}.tmp", ::getpid());
    fs::remove_all(staging, ec);
    if (auto s = run_install_db(staging, options_.dir + "/install.log"); !s) return s;
    // Atomic publish; a concurrent installer may have won the race, which is fine.
    if (::rename(staging.c_str(), tmpl.c_str()) != 0) fs::remove_all(staging, ec);
  }
  fs::copy(tmpl, data, fs::copy_options::recursive, ec);
  if (ec) return system_error(fmt::format("cannot copy the MariaDB template into {}: {}", data, ec.message()));
  return Ok{};
}

Status MariaDbInstance::launch() {
  const std::string log = options_.dir + "/error.log";
  std::vector<std::string> argv = {kMariadbd};
  for (auto& a : common_server_args()) argv.push_back(a);
  if (::geteuid() == 0) argv.push_back("--user=root");
  argv.insert(argv.end(),
              {"--datadir=" + options_.dir + "/data", "--socket=" + socket_, fmt::format("--port={}", port_),
               "--bind-address=127.0.0.1", "--pid-file=" + options_.dir + "/mysqld.pid", "--log-error=" + log,
               "--log-bin=binlog", "--binlog-format=ROW", "--binlog-row-image=FULL", "--binlog-row-metadata=FULL",
               "--gtid-strict-mode=1", fmt::format("--server-id={}", options_.server_id),
               fmt::format("--gtid-domain-id={}", options_.domain_id), "--max-connections=200"});
  for (auto& a : options_.extra_args) argv.push_back(a);
  auto pid = spawn(argv, options_.dir + "/mariadbd.out");
  if (!pid) return pid.error();
  pid_ = *pid;

  // Wait until it answers on the socket (bounded), or until it dies. "Access denied" is an
  // answer too (a restarted dir may already have the configured password).
  ConnParams p;
  p.socket = socket_;
  p.user = "root";
  p.timeout_seconds = 2;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return system_error("mariadbd exited during startup", tail_of(log));
    }
    if (fs::exists(socket_)) {
      auto c = Connection::open(p);
      if (c || c.error().type == FailureType::config_error) return Ok{};
    }
    std::this_thread::sleep_for(20ms);
  }
  (void)stop();
  return system_error("mariadbd did not answer within 30 s", tail_of(log));
}

Status MariaDbInstance::bootstrap_accounts() {
  ConnParams p;
  p.socket = socket_;
  p.user = "root";
  auto c = Connection::open(p);  // fresh install: root has no password yet
  if (!c && options_.user == "root") {
    p.password = options_.password;  // restart of a dir whose root password is already set
    c = Connection::open(p);
  }
  if (!c) return c.error();
  // Not binlogged: shard positions start with the first user transaction.
  if (auto s = c->exec("SET SESSION sql_log_bin=0"); !s) return s;
  auto user = c->escape(options_.user);
  auto pass = c->escape(options_.password);
  for (const char* host : {"127.0.0.1", "localhost", "::1"}) {
    auto sql = fmt::format("CREATE USER IF NOT EXISTS '{}'@'{}' IDENTIFIED BY '{}'", user, host, pass);
    if (auto s = c->exec(sql); !s) return s;
    sql = fmt::format("ALTER USER '{}'@'{}' IDENTIFIED BY '{}'", user, host, pass);
    if (auto s = c->exec(sql); !s) return s;
    sql = fmt::format("GRANT ALL PRIVILEGES ON *.* TO '{}'@'{}' WITH GRANT OPTION", user, host);
    if (auto s = c->exec(sql); !s) return s;
  }
  return Ok{};
}

Status MariaDbInstance::start() {
  if (running()) return Ok{};
  const auto t0 = std::chrono::steady_clock::now();
  if (options_.dir.empty()) {
    std::string tmpl = (fs::temp_directory_path() / "sv-mariadb-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) return system_error("mkdtemp failed", std::strerror(errno));
    options_.dir = tmpl;
    options_.remove_dir_on_stop = true;
  }
  options_.dir = fs::absolute(options_.dir).string();
  socket_ = options_.dir + "/mysqld.sock";
  if (socket_.size() >= 100)
    return config_error(fmt::format("MariaDB dir path too long for a unix socket: {}", options_.dir));
  if (auto s = install(); !s) return s;
  Status launched = Ok{};
  for (int attempt = 0; attempt < 3; ++attempt) {  // a picked free port may be taken meanwhile
    port_ = options_.port;
    if (port_ == 0) {
      auto p = free_loopback_port();
      if (!p) return p.error();
      port_ = *p;
    }
    launched = launch();
    if (launched || options_.port != 0) break;
  }
  if (!launched) return launched;
  if (auto s = bootstrap_accounts(); !s) {
    (void)stop();
    return s;
  }
  start_duration_ = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  spdlog::debug("mariadb: started pid {} port {} dir {} in {} ms", pid_, port_, options_.dir, start_duration_.count());
  return Ok{};
}

Status MariaDbInstance::stop() {
  Status result = Ok{};
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    int status = 0;
    bool reaped = false;
    while (std::chrono::steady_clock::now() < deadline) {
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_ || (r < 0 && errno == ECHILD)) {
        reaped = true;
        break;
      }
      std::this_thread::sleep_for(10ms);
    }
    if (!reaped) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      result = system_error("mariadbd did not stop within 30 s; killed");
    }
    pid_ = -1;
  }
  return result;
}

std::string MariaDbInstance::error_log_tail(size_t max_bytes) const {
  return tail_of(options_.dir + "/error.log", max_bytes);
}

ConnParams MariaDbInstance::conn_params(std::string database) const {
  ConnParams p;
  p.host = "127.0.0.1";
  p.port = port_;
  p.user = options_.user;
  p.password = options_.password;
  p.database = std::move(database);
  return p;
}

Result<Connection> MariaDbInstance::connect(std::string database) const {
  return Connection::open(conn_params(std::move(database)));
}

}  // namespace sv::emulator::mysql
