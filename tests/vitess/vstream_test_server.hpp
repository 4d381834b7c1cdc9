// tests/vitess: a minimal in-process gRPC VStream server for client tests. Each call plays a script
// (responses, then a final status, or a stall until the client cancels) and records what the
// client sent (request, authorization header) and how far the server got (writes, cancels).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "util/tsan.hpp"
#include "vtgateservice.grpc.pb.h"
#include "wait.hpp"

namespace sv::vitess::test {

//! How much longer a limit that only bounds a hang ("did not finish in time") may be in this
//! build: under ThreadSanitizer the client and server code that moves data through gRPC runs 5-15
//! times slower (every access checked, every allocation and memcpy intercepted), more on a loaded
//! 2-core machine. Never for a duration a test asserts (a deadline the code must respect).
#ifdef SV_TSAN_ENABLED
inline constexpr int kDeadlineScale = 10;
#else
inline constexpr int kDeadlineScale = 1;
#endif

struct Script {
  std::vector<vtgate::VStreamResponse> responses;
  grpc::Status final_status = grpc::Status::OK;
  bool stall = false;  //!< after the responses, send nothing until the client cancels
};

//! The script of each call, set by the test thread and called on gRPC's server threads: a
//! mutex orders the assignment (and what the function captured) before the calls.
class ScriptFor {
 public:
  using Fn = std::function<Script(const vtgate::VStreamRequest&)>;
  ScriptFor& operator=(Fn fn) {
    std::lock_guard lock(mu_);
    fn_ = std::move(fn);
    return *this;
  }
  Script operator()(const vtgate::VStreamRequest& request) const {
    Fn fn;
    {
      std::lock_guard lock(mu_);
      fn = fn_;
    }
    return fn ? fn(request) : Script{};
  }

 private:
  mutable std::mutex mu_;
  Fn fn_;
};

class TestVStreamService final : public vtgateservice::Vitess::CallbackService {
 public:
  ScriptFor script_for;

  std::mutex mu;
  std::vector<std::string> auth_headers;
  std::vector<std::string> accept_encodings;
  std::vector<vtgate::VStreamRequest> requests;
  std::atomic<int> calls{0};
  std::atomic<int> writes_done{0};
  std::atomic<int> cancels{0};
  sv::testing::Counter done;  //!< calls ended (OnDone); tests wait on it

  grpc::ServerWriteReactor<vtgate::VStreamResponse>* VStream(grpc::CallbackServerContext* ctx,
                                                             const vtgate::VStreamRequest* request) override {
    ++calls;
    {
      std::lock_guard lock(mu);
      auto md = ctx->client_metadata();
      auto it = md.find("authorization");
      auth_headers.push_back(it == md.end() ? "<none>" : std::string(it->second.data(), it->second.size()));
      auto enc = md.find("grpc-accept-encoding");
      accept_encodings.push_back(enc == md.end() ? "<none>" : std::string(enc->second.data(), enc->second.size()));
      requests.push_back(*request);
    }
    return new Writer(this, script_for(*request));
  }

 private:
  // gRPC runs each reaction on one of its threads, handed over through its own (uninstrumented)
  // queues: SV_TSAN_ACQUIRE at the start of a reaction pairs with the SV_TSAN_RELEASE before the
  // StartWrite/Finish that leads to it and at the end of the previous reaction (util/tsan.hpp).
  class Writer final : public grpc::ServerWriteReactor<vtgate::VStreamResponse> {
   public:
    Writer(TestVStreamService* svc, Script script) : svc_(svc), script_(std::move(script)) {
      std::lock_guard lock(mu_);
      step_locked();
      SV_TSAN_RELEASE(this);  // VStream() hands the reactor to gRPC: OnCancel may come next
    }

    void OnWriteDone(bool ok) override {
      SV_TSAN_ACQUIRE(this);
      std::lock_guard lock(mu_);
      writing_ = false;
      if (!ok) {
        finish_locked(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
      } else {
        ++svc_->writes_done;
        ++next_;
        step_locked();
      }
      SV_TSAN_RELEASE(this);
    }

    void OnCancel() override {
      SV_TSAN_ACQUIRE(this);
      ++svc_->cancels;
      std::lock_guard lock(mu_);
      cancelled_ = true;
      if (!writing_) finish_locked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
      SV_TSAN_RELEASE(this);
    }

    void OnDone() override {
      SV_TSAN_ACQUIRE(this);
      ++svc_->done;
      delete this;
    }

   private:
    void step_locked() {
      if (cancelled_) {
        finish_locked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
      } else if (next_ < script_.responses.size()) {
        writing_ = true;
        SV_TSAN_RELEASE(this);
        StartWrite(&script_.responses[next_]);
      } else if (!script_.stall) {
        finish_locked(script_.final_status);
      }
    }
    void finish_locked(const grpc::Status& s) {
      if (finished_) return;
      finished_ = true;
      SV_TSAN_RELEASE(this);
      Finish(s);
    }

    TestVStreamService* svc_;
    Script script_;
    std::mutex mu_;
    std::size_t next_ = 0;
    bool writing_ = false;
    bool cancelled_ = false;
    bool finished_ = false;
  };
};

//! A running server on 127.0.0.1 and a free port.
struct TestServer {
  TestVStreamService service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;

  explicit TestServer(std::shared_ptr<grpc::ServerCredentials> creds = grpc::InsecureServerCredentials()) {
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", creds, &port);
    b.RegisterService(&service);
    b.SetMaxSendMessageSize(200 * 1024 * 1024);
    server = b.BuildAndStart();
  }
  ~TestServer() {
    if (!server) return;
    server->Shutdown(std::chrono::system_clock::now());
    // Every call's OnDone has run (it counts `done`) before the service and its counters go:
    // Shutdown waits for that inside gRPC, where ThreadSanitizer cannot see it. Bounded.
    service.done.wait_at_least(service.calls.load(), std::chrono::seconds(10));
  }
};

}  // namespace sv::vitess::test
