// bench/discard_client.cpp — sv-bench-discard: the transport ceiling. Opens the same VStream
// calls the connector opens for a full-refresh copy of one table (one call per shard, the request
// built by vitess::build_vstream_request, so the emulator's pre-encoded cache is shared with the
// connector's runs), receives and parses every response and throws it away. Optionally dumps the
// copied rows (see dump_format.hpp) for the render benchmark and the Go-style baseline.
//
// Output: one JSON line on stdout:
//   {"rows":N,"responses":R,"wire_bytes":B,"seconds":S,"cpu_seconds":C,"first_row_ms":F,"max_rss_kb":M}
// (wire_bytes only with --count-bytes or --dump: it costs a pass over every message.)
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <google/protobuf/arena.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/support/sync_stream.h>

// vstream_client.hpp (Boost.Asio) must come before any generated header: the protobuf namespace
// `query` would otherwise shadow Asio's query() customisation point.
#include "util/strings.hpp"
#include "vitess/vstream_client.hpp"
#include "dump_format.hpp"
#include "vtgateservice.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string keyspace = "commerce";
  std::string table;
  std::vector<std::string> shards;
  std::vector<std::string> columns;  // the rule's select list (empty = `SELECT *`), as the connector pushes it down
  std::string user, password;
  std::string dump_path;
  std::uint64_t dump_rows = 0;  // 0 = every row
  bool count_bytes = false;
  int timeout_seconds = 600;
  int stream_window = 0;  // > 0: no BDP probing, HTTP/2 stream lookahead capped at this many bytes
  bool arena = false;     // experiment: receive raw bytes, parse each response on a reused Arena
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "sv-bench-discard: %s\n"
               "usage: sv-bench-discard --port=P --table=T --shards=A,B,.. [--host=H] [--keyspace=K]\n"
               "       [--user=U --password=P] [--dump=FILE [--dump-rows=N]] [--count-bytes] [--timeout=S]\n"
               "       [--columns=A,B,..]  (the select list of the filter rule; default every column)\n"
               "       [--stream-window=BYTES]  (experiment: cap per-stream HTTP/2 buffering, no BDP probe)\n"
               "       [--arena]  (experiment: raw ByteBuffer reads parsed on a reused protobuf Arena)\n",
               why.c_str());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto eq = a.find('=');
    std::string_view name = a.substr(0, eq);
    std::string value = eq == std::string_view::npos ? "" : std::string(a.substr(eq + 1));
    if (name == "--host") o.host = value;
    else if (name == "--port") o.port = std::atoi(value.c_str());
    else if (name == "--keyspace") o.keyspace = value;
    else if (name == "--table") o.table = value;
    else if (name == "--shards") o.shards = sv::split_list(value, ',');
    else if (name == "--columns") o.columns = sv::split_list(value, ',');
    else if (name == "--user") o.user = value;
    else if (name == "--password") o.password = value;
    else if (name == "--dump") o.dump_path = value;
    else if (name == "--dump-rows") o.dump_rows = std::strtoull(value.c_str(), nullptr, 10);
    else if (name == "--count-bytes") o.count_bytes = true;
    else if (name == "--timeout") o.timeout_seconds = std::atoi(value.c_str());
    else if (name == "--stream-window") o.stream_window = std::atoi(value.c_str());
    else if (name == "--arena") o.arena = true;
    else usage("unknown option " + std::string(a));
  }
  if (o.port <= 0 || o.table.empty() || o.shards.empty()) usage("--port, --table and --shards are required");
  return o;
}

double cpu_seconds_self() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct Shared {
  std::atomic<std::uint64_t> rows{0};
  std::atomic<std::uint64_t> responses{0};
  std::atomic<std::uint64_t> bytes{0};
  std::atomic<std::int64_t> first_row_ns{-1};
  std::mutex dump_mu;
  std::FILE* dump = nullptr;
  bool dump_header_written = false;
  std::uint64_t dumped = 0;
  std::atomic<int> failures{0};
};

std::shared_ptr<grpc::Channel> g_channel;
grpc::ChannelInterface* channel_of(vtgateservice::Vitess::Stub&) { return g_channel.get(); }

void run_shard(const Options& o, vtgateservice::Vitess::Stub& stub, const std::string& shard, Shared& sh,
               Clock::time_point start) {
  sv::vitess::ShardStart s{o.keyspace, shard, "", {}};
  const std::string tables[] = {o.table};
  sv::vitess::VStreamRequestOptions ro;
  ro.cells = sv::vitess::default_cells_for_host(o.host);
  const std::vector<std::string> columns[] = {o.columns};
  const auto req = sv::vitess::build_vstream_request(std::span(&s, 1), tables, ro, columns);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(o.timeout_seconds));
  if (!o.user.empty()) {
    // Same scheme as the connector: HTTP basic auth in the authorization metadata.
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const std::string in = o.user + ":" + o.password;
    std::string b64;
    for (std::size_t i = 0; i < in.size(); i += 3) {
      std::uint32_t v = static_cast<std::uint8_t>(in[i]) << 16;
      if (i + 1 < in.size()) v |= static_cast<std::uint8_t>(in[i + 1]) << 8;
      if (i + 2 < in.size()) v |= static_cast<std::uint8_t>(in[i + 2]);
      b64 += kAlphabet[(v >> 18) & 63];
      b64 += kAlphabet[(v >> 12) & 63];
      b64 += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
      b64 += i + 2 < in.size() ? kAlphabet[v & 63] : '=';
    }
    ctx.AddMetadata("authorization", "Basic " + b64);
  }
  // Two ways to receive: the generated stub (what the connector does: gRPC parses into a heap
  // message), or raw bytes parsed here into a message on an Arena that is reset per response.
  std::unique_ptr<grpc::ClientReader<vtgate::VStreamResponse>> reader;
  std::unique_ptr<grpc::ClientReader<grpc::ByteBuffer>> raw_reader;
  if (o.arena) {
    static const grpc::internal::RpcMethod kMethod("/vtgateservice.Vitess/VStream", grpc::internal::RpcMethod::SERVER_STREAMING);
    raw_reader.reset(grpc::internal::ClientReaderFactory<grpc::ByteBuffer>::Create(channel_of(stub), kMethod, &ctx, req));
  } else {
    reader = stub.VStream(&ctx, req);
  }
  google::protobuf::ArenaOptions ao;
  ao.start_block_size = 1 << 20;
  ao.max_block_size = 1 << 20;
  google::protobuf::Arena arena(ao);
  vtgate::VStreamResponse heap_resp;
  vtgate::VStreamResponse* resp_ptr = &heap_resp;
  grpc::ByteBuffer bb;
  std::string flat;
  auto next = [&]() -> bool {
    if (!o.arena) return reader->Read(&heap_resp);
    if (!raw_reader->Read(&bb)) return false;
    std::vector<grpc::Slice> slices;
    (void)bb.Dump(&slices);
    flat.clear();
    for (const auto& sl : slices) flat.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
    arena.Reset();
    resp_ptr = google::protobuf::Arena::CreateMessage<vtgate::VStreamResponse>(&arena);
    return resp_ptr->ParseFromArray(flat.data(), static_cast<int>(flat.size()));
  };
  std::uint64_t rows = 0;
  bool done = false;
  while (!done && next()) {
    const vtgate::VStreamResponse& resp = *resp_ptr;
    sh.responses.fetch_add(1, std::memory_order_relaxed);
    if (o.count_bytes || sh.dump) sh.bytes.fetch_add(resp.ByteSizeLong(), std::memory_order_relaxed);
    for (const auto& ev : resp.events()) {
      switch (ev.type()) {
        case binlogdata::ROW: {
          const auto n = static_cast<std::uint64_t>(ev.row_event().row_changes_size());
          if (rows == 0 && n != 0) {
            std::int64_t expected = -1;
            const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
            sh.first_row_ns.compare_exchange_strong(expected, ns);
          }
          rows += n;
          if (sh.dump) {
            std::lock_guard lock(sh.dump_mu);
            for (const auto& rc : ev.row_event().row_changes()) {
              if (o.dump_rows != 0 && sh.dumped >= o.dump_rows) break;
              sv::bench::write_dump_row(sh.dump, rc.after());
              ++sh.dumped;
            }
          }
          break;
        }
        case binlogdata::FIELD:
          if (sh.dump) {
            std::lock_guard lock(sh.dump_mu);
            if (!sh.dump_header_written) {
              sv::bench::write_dump_header(sh.dump, o.keyspace, o.table, ev.field_event().fields());
              sh.dump_header_written = true;
            }
          }
          break;
        case binlogdata::COPY_COMPLETED:
          // The per-shard COPY_COMPLETED names the shard; the connector's full refresh ends here.
          if (!ev.shard().empty()) done = true;
          break;
        default:
          break;
      }
    }
  }
  sh.rows.fetch_add(rows, std::memory_order_relaxed);
  auto finish = [&] { return o.arena ? raw_reader->Finish() : reader->Finish(); };
  if (done) {
    ctx.TryCancel();
    (void)finish();
  } else {
    const auto st = finish();
    std::fprintf(stderr, "sv-bench-discard: shard %s ended before COPY_COMPLETED: %d %s\n", shard.c_str(),
                 static_cast<int>(st.error_code()), st.error_message().c_str());
    sh.failures.fetch_add(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(100 * 1024 * 1024);
  if (o.stream_window > 0) {
    // Memory experiment: gRPC's BDP probing grows each stream's receive window to many MiB on
    // loopback; with it off the window stays at the lookahead, bounding buffered bytes per shard.
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, o.stream_window);
  }
  auto channel = grpc::CreateCustomChannel(o.host + ":" + std::to_string(o.port), grpc::InsecureChannelCredentials(), args);
  g_channel = channel;
  auto stub = vtgateservice::Vitess::NewStub(channel);
  Shared sh;
  if (!o.dump_path.empty()) {
    sh.dump = std::fopen(o.dump_path.c_str(), "wb");
    if (!sh.dump) usage("cannot write " + o.dump_path);
    static char buf[1 << 20];
    std::setvbuf(sh.dump, buf, _IOFBF, sizeof buf);
  }
  const double cpu0 = cpu_seconds_self();
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (const auto& s : o.shards) threads.emplace_back([&, s] { run_shard(o, *stub, s, sh, start); });
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu = cpu_seconds_self() - cpu0;
  if (sh.dump) std::fclose(sh.dump);
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  std::printf(
      "{\"rows\":%llu,\"responses\":%llu,\"wire_bytes\":%llu,\"seconds\":%.6f,\"cpu_seconds\":%.6f,"
      "\"first_row_ms\":%.3f,\"max_rss_kb\":%ld,\"failures\":%d}\n",
      static_cast<unsigned long long>(sh.rows.load()), static_cast<unsigned long long>(sh.responses.load()),
      static_cast<unsigned long long>(sh.bytes.load()), seconds, cpu,
      static_cast<double>(sh.first_row_ns.load()) / 1e6, ru.ru_maxrss, sh.failures.load());
  return sh.failures.load() == 0 ? 0 : 1;
}
