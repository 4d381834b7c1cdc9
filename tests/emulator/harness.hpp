// tests/emulator/harness.hpp — a vtgate-emulator process (tests/support's launcher) with its
// control API, and a small synchronous VStream test client (its own code, not the connector's).
// Every wait is bounded.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>
// Asio before the generated protobuf headers: their namespace `query` hides Asio's query trait
// (the emulator's headers pull Asio in).
#include <boost/asio/io_context.hpp>

#include "binlogdata.pb.h"
#include "emulator.hpp"
#include "emulator/dataset.hpp"
#include "vtgate.pb.h"
#include "vtgateservice.grpc.pb.h"

namespace emu_test {

//! A string or number member of a one-line JSON object, unquoted ("" when absent).
inline std::string json_field(const std::string& json, const std::string& key) {
  auto at = json.find("\"" + key + "\":");
  if (at == std::string::npos) return {};
  at += key.size() + 3;
  auto end = json.find_first_of(",}", at);
  std::string v = json.substr(at, end - at);
  if (!v.empty() && v.front() == '"') v = v.substr(1, v.size() - 2);
  return v;
}

//! A running vtgate-emulator (tests/support's launcher) with the control API calls these tests
//! make; SIGTERM + a bounded wait on destruction.
class Emulator {
 public:
  explicit Emulator(const std::vector<std::string>& args) : process_(args) {}

  int grpc_port() const { return process_.grpc_port(); }
  int control_port() const { return process_.control_port(); }
  std::chrono::steady_clock::duration startup_time() const { return process_.startup_time(); }
  std::string target() const { return process_.target(); }

  //! One control API call; returns {status, body}.
  std::pair<int, std::string> control(const std::string& method, const std::string& target) const {
    return process_.control(method, target);
  }
  std::string post(const std::string& target) const {
    auto [code, body] = control("POST", target);
    if (code != 200) FAIL(target << " -> " << code << " " << body);
    return body;
  }

 private:
  sv::testing::EmulatorProcess process_;
};

//! Credentials for the test client.
struct ClientAuth {
  std::string user, password;
  std::optional<std::string> root_ca;  // PEM; set = TLS
};

inline std::shared_ptr<grpc::Channel> channel(const Emulator& emu, const ClientAuth& auth = {}) {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  grpc::ChannelArguments args;
  if (auth.root_ca) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = *auth.root_ca;
    creds = grpc::SslCredentials(ssl);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  args.SetMaxReceiveMessageSize(100 * 1024 * 1024);
  return grpc::CreateCustomChannel(emu.target(), creds, args);
}

inline std::string basic(const std::string& user, const std::string& pass) {
  static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const std::string s = user + ":" + pass;
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < s.size(); i += 3) {
    unsigned n = (static_cast<unsigned char>(s[i]) << 16) | (static_cast<unsigned char>(s[i + 1]) << 8) |
                 static_cast<unsigned char>(s[i + 2]);
    out += {kB64[(n >> 18) & 63], kB64[(n >> 12) & 63], kB64[(n >> 6) & 63], kB64[n & 63]};
  }
  if (i + 1 == s.size()) {
    unsigned n = static_cast<unsigned char>(s[i]) << 16;
    out += {kB64[(n >> 18) & 63], kB64[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == s.size()) {
    unsigned n = (static_cast<unsigned char>(s[i]) << 16) | (static_cast<unsigned char>(s[i + 1]) << 8);
    out += {kB64[(n >> 18) & 63], kB64[(n >> 12) & 63], kB64[(n >> 6) & 63], '='};
  }
  return "Basic " + out;
}

//! A synchronous VStream reader: events one by one with the time each arrived.
class Stream {
 public:
  Stream(std::shared_ptr<grpc::Channel> ch, const vtgate::VStreamRequest& req, const ClientAuth& auth = {},
         std::chrono::seconds deadline = std::chrono::seconds(20))
      : stub_(vtgateservice::Vitess::NewStub(ch)) {
    ctx_.set_deadline(std::chrono::system_clock::now() + deadline);
    if (!auth.user.empty()) ctx_.AddMetadata("authorization", basic(auth.user, auth.password));
    reader_ = stub_->VStream(&ctx_, req);
  }
  ~Stream() {
    if (!finished_) {
      ctx_.TryCancel();
      reader_->Finish();
    }
  }

  //! Next event; nullopt when the stream ended (then status() tells how).
  std::optional<binlogdata::VEvent> next() {
    while (pending_.empty()) {
      vtgate::VStreamResponse resp;
      if (!reader_->Read(&resp)) {
        status_ = reader_->Finish();
        finished_ = true;
        return std::nullopt;
      }
      ++responses_;
      for (auto& ev : *resp.mutable_events()) pending_.push_back(std::move(ev));
    }
    auto ev = std::move(pending_.front());
    pending_.pop_front();
    last_at_ = std::chrono::steady_clock::now();
    return ev;
  }
  //! Next event, which must exist.
  binlogdata::VEvent must_next() {
    auto ev = next();
    if (!ev) FAIL("stream ended early: " << static_cast<int>(status_.error_code()) << " " << status_.error_message());
    return *ev;
  }
  //! Reads to the end; returns the status and counts the events that were still sent.
  grpc::Status drain(std::size_t* events = nullptr) {
    std::size_t n = 0;
    while (next()) ++n;
    if (events) *events = n;
    return status_;
  }
  void cancel() { ctx_.TryCancel(); }
  const grpc::Status& status() const { return status_; }
  std::size_t responses() const { return responses_; }

 private:
  std::unique_ptr<vtgateservice::Vitess::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<vtgate::VStreamResponse>> reader_;
  std::deque<binlogdata::VEvent> pending_;
  grpc::Status status_;
  bool finished_ = false;
  std::size_t responses_ = 0;
  std::chrono::steady_clock::time_point last_at_;
};

//! A request for one keyspace/shard with one rule per table.
inline vtgate::VStreamRequest request(const std::string& ks, const std::string& shard, const std::string& gtid,
                                      const std::vector<std::string>& tables) {
  vtgate::VStreamRequest req;
  req.set_tablet_type(topodata::PRIMARY);
  auto* sg = req.mutable_vgtid()->add_shard_gtids();
  sg->set_keyspace(ks);
  sg->set_shard(shard);
  sg->set_gtid(gtid);
  for (const auto& t : tables) {
    auto* r = req.mutable_filter()->add_rules();
    r->set_match(t);
    r->set_filter("SELECT * FROM `" + t + "`");
  }
  return req;
}

inline std::string type_name(const binlogdata::VEvent& ev) { return binlogdata::VEventType_Name(ev.type()); }

}  // namespace emu_test
