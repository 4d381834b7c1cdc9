// tests/socket: src/socket (Airbyte's socket mode, docs/speed-mode.md) without the engine: the data
// channel's environment, listening and accepting, the record writers' bytes decoded by the classes
// protoc generates from subprojects/airbyte-proto (so the hand encoder is checked against the
// schema it follows), patching partition ids, control and probe framing, the temporal parsers, and
// SocketOutput's placement of records, STATE and statuses over a socket pair.
#include <doctest/doctest.h>

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <rapidjson/document.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "airbyte_message.pb.h"
#include "socket/data_channel.hpp"
#include "socket/proto_wire.hpp"
#include "socket/record_writers.hpp"
#include "socket/socket_output.hpp"
#include "temp_dir.hpp"

using namespace sv;
using namespace sv::socket;
namespace pb = io::airbyte::protocol::protobuf;

namespace {

Result<DataChannel> from(const std::map<std::string, std::string>& env) {
  return data_channel_from_env([&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

vitess::Column column(const std::string& name, query::Type type, const std::string& column_type,
                      std::uint32_t charset = 255) {
  query::Field f;
  f.set_name(name);
  f.set_type(type);
  f.set_column_type(column_type);
  f.set_charset(charset);
  return vitess::make_column(f, vitess::ValueOptions{});
}

//! Splits varint-delimited messages and parses each with the generated class.
std::vector<pb::AirbyteMessageProtobuf> parse_delimited(const std::string& bytes) {
  std::vector<pb::AirbyteMessageProtobuf> out;
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    std::uint64_t size = 0;
    REQUIRE(wire::get_varint(bytes, pos, size));
    REQUIRE(pos + size <= bytes.size());
    pb::AirbyteMessageProtobuf m;
    REQUIRE(m.ParseFromString(bytes.substr(pos, size)));
    out.push_back(std::move(m));
    pos += size;
  }
  return out;
}

airbyte::StreamState cursor_state(const std::string& shard, const std::string& cursor) {
  return airbyte::StreamState(std::map<std::string, std::string>{{shard, cursor}});
}

int listen_at(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

int connect_to(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  for (int i = 0; i < 200; ++i) {  // bounded: 200 × 10 ms
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::close(fd);
  return -1;
}

}  // namespace

TEST_CASE("data channel environment: STDIO by default, SOCKET with checked paths") {
  sv::testing::TempDir dir("sv_socket");
  auto none = from({});
  REQUIRE(none.ok());
  CHECK(none->medium == Medium::stdio);
  auto stdio = from({{"DATA_CHANNEL_MEDIUM", "STDIO"}, {"DATA_CHANNEL_FORMAT", "PROTOBUF"}});
  REQUIRE(stdio.ok());
  CHECK(stdio->medium == Medium::stdio);

  const std::string a = dir.file("a.sock"), b = dir.file("b.sock");
  auto two = from({{"DATA_CHANNEL_MEDIUM", "SOCKET"},
                   {"DATA_CHANNEL_FORMAT", "PROTOBUF"},
                   {"DATA_CHANNEL_SOCKET_PATHS", a + ", " + b}});
  REQUIRE(two.ok());
  CHECK(two->medium == Medium::socket);
  CHECK(two->format == Format::protobuf);
  CHECK(two->paths == std::vector<std::string>{a, b});
  CHECK(two->accept_timeout == std::chrono::seconds(300));

  // A stale socket file is fine (it is replaced when listening).
  ::close(listen_at(a));
  auto stale = from({{"DATA_CHANNEL_MEDIUM", "SOCKET"},
                     {"DATA_CHANNEL_SOCKET_PATHS", a},
                     {"SOURCE_VITESS_SOCKET_ACCEPT_TIMEOUT_SECONDS", "5"}});
  REQUIRE(stale.ok());
  CHECK(stale->format == Format::jsonl);
  CHECK(stale->accept_timeout == std::chrono::seconds(5));

  struct Bad {
    std::map<std::string, std::string> env;
    std::string message;
  };
  const std::string long_path = dir.file(std::string(120, 'x'));
  const std::vector<Bad> bad = {
      {{{"DATA_CHANNEL_MEDIUM", "socket"}}, "DATA_CHANNEL_MEDIUM 'socket' is not supported: expected STDIO or SOCKET"},
      {{{"DATA_CHANNEL_FORMAT", "CSV"}}, "DATA_CHANNEL_FORMAT 'CSV' is not supported: expected JSONL or PROTOBUF"},
      {{{"DATA_CHANNEL_MEDIUM", "SOCKET"}, {"DATA_CHANNEL_SOCKET_PATHS", a + ",," + b}},
       "DATA_CHANNEL_SOCKET_PATHS '" + a + ",," + b + "' has an empty entry"},
      {{{"DATA_CHANNEL_MEDIUM", "SOCKET"}, {"DATA_CHANNEL_SOCKET_PATHS", a + "," + a}},
       "DATA_CHANNEL_SOCKET_PATHS names '" + a + "' twice"},
      {{{"DATA_CHANNEL_MEDIUM", "SOCKET"}, {"DATA_CHANNEL_SOCKET_PATHS", long_path}},
       "DATA_CHANNEL_SOCKET_PATHS: the socket path '" + long_path + "' is " + std::to_string(long_path.size()) +
           " bytes long; a Unix socket path has at most 107"},
      {{{"DATA_CHANNEL_MEDIUM", "SOCKET"}, {"DATA_CHANNEL_SOCKET_PATHS", dir.path}},
       "DATA_CHANNEL_SOCKET_PATHS: '" + dir.path +
           "' exists and is not a socket; the connector only replaces a stale socket file"},
      {{{"DATA_CHANNEL_MEDIUM", "SOCKET"},
        {"DATA_CHANNEL_SOCKET_PATHS", a},
        {"SOURCE_VITESS_SOCKET_ACCEPT_TIMEOUT_SECONDS", "0"}},
       "SOURCE_VITESS_SOCKET_ACCEPT_TIMEOUT_SECONDS '0' is not a positive number of seconds"},
  };
  for (const auto& c : bad) {
    INFO(c.message);
    auto r = from(c.env);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().type == FailureType::config_error);
    CHECK(r.error().message == c.message);
  }
}

TEST_CASE("data channel environment: more sockets than the open-files limit allows is a config_error") {
  sv::testing::TempDir dir("sv_socket");
  rlimit saved{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
  rlimit low = saved;
  low.rlim_cur = 70;  // 2 × 4 paths + 64 kept = 72 > 70
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
  std::string paths;
  for (int i = 1; i <= 4; ++i) paths += (i > 1 ? "," : "") + dir.file("s" + std::to_string(i) + ".sock");
  auto r = from({{"DATA_CHANNEL_MEDIUM", "SOCKET"}, {"DATA_CHANNEL_SOCKET_PATHS", paths}});
  auto three =
      from({{"DATA_CHANNEL_MEDIUM", "SOCKET"},
            {"DATA_CHANNEL_SOCKET_PATHS", dir.file("a.sock") + "," + dir.file("b.sock") + "," + dir.file("c.sock")}});
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().type == FailureType::config_error);
  CHECK(r.error().message ==
        "DATA_CHANNEL_SOCKET_PATHS names 4 sockets, more than this process may open (open-files limit 70, 64 kept for "
        "the rest): give fewer paths or raise the limit");
  CHECK(three.ok());  // 2 × 3 + 64 = 70 fits
}

TEST_CASE("open_data_channel: replaces a stale socket, accepts every path, times out naming the path") {
  sv::testing::TempDir dir("sv_socket");
  const std::string a = dir.file("a.sock"), b = dir.file("b.sock");
  ::close(listen_at(a));  // stale
  int ca = -1, cb = -1;
  std::thread client([&] {
    ca = connect_to(a);
    cb = connect_to(b);
  });
  auto sockets = open_data_channel({a, b}, std::chrono::seconds(10));
  client.join();
  REQUIRE(sockets.ok());
  REQUIRE(sockets->size() == 2);
  CHECK((*sockets)[0].path == a);
  CHECK((*sockets)[1].path == b);
  // Connected: bytes written on our end arrive at the client's.
  REQUIRE(::write((*sockets)[1].fd, "x", 1) == 1);
  char c = 0;
  CHECK(::read(cb, &c, 1) == 1);
  CHECK(c == 'x');
  struct stat st {};
  CHECK(::lstat(a.c_str(), &st) != 0);  // no socket file left once connected
  for (auto& s : *sockets) ::close(s.fd);
  ::close(ca);
  ::close(cb);

  auto timeout = open_data_channel({dir.file("c.sock")}, std::chrono::milliseconds(200));
  REQUIRE_FALSE(timeout.ok());
  CHECK(timeout.error().type == FailureType::transient_error);
  CHECK(timeout.error().message ==
        "no destination connected to the data channel socket '" + dir.file("c.sock") +
            "' within 0 s (DATA_CHANNEL_MEDIUM=SOCKET); the destination did not start or does not support socket mode");
}

TEST_CASE("PROTOBUF records: positional values in property-name order, each type in its member") {
  std::vector<vitess::Column> cols{
      column("zeta", query::INT64, "bigint"),
      column("big", query::UINT64, "bigint unsigned"),
      column("amount", query::DECIMAL, "decimal(12,3)"),
      column("ratio", query::FLOAT64, "double"),
      column("flag", query::INT8, "tinyint(1)"),
      column("day", query::DATE, "date"),
      column("at", query::DATETIME, "datetime(6)"),
      column("ts", query::TIMESTAMP, "timestamp"),
      column("clock", query::TIME, "time"),
      column("name", query::VARCHAR, "varchar(20)"),
      column("raw", query::VARBINARY, "varbinary(8)", 63),
      column("doc", query::JSON, "json", 63),
      column("neg", query::INT32, "int"),
  };
  std::vector<vitess::Cell> cells{
      {"-7", false},
      {"18446744073709551615", false},
      {"12.500", false},
      {"1.5", false},
      {"1", false},
      {"2024-02-29", false},
      {"1969-12-31 23:59:59.250000", false},
      {"2021-03-04 05:06:07", false},
      {"-01:00:00", false},  // a duration: no time of day
      {"a \"q\" é", false},
      {"\x00\xff", false},
      {R"({"a": 1})", false},
      {{}, true},
  };
  cells[10].raw = std::string_view("\x00\xff", 2);
  std::vector<std::uint32_t> selection(cols.size());
  for (std::uint32_t i = 0; i < selection.size(); ++i) selection[i] = i;
  engine::RowMetadata meta{1700000000000000000, 7, "MySQL56/u:1-5"};
  engine::RowView row;
  row.emitted_at = 1700000000123;
  row.columns = cols;
  row.cells = cells;
  row.selection = selection;
  row.updated_at = engine::ComputedText{true, false, "2023-11-14T22:13:20Z"};
  row.deleted_at = engine::ComputedText{true, true, {}};
  row.metadata = &meta;

  std::vector<std::string> props;
  for (const auto& c : cols) props.push_back(c.name);
  props.insert(props.end(), {"_ab_cdc_updated_at", "_ab_cdc_deleted_at", "_planetscale_metadata", "missing"});
  auto w = make_protobuf_record_writer({"orders", "shop"}, props);
  w->write(row);
  w->write(row);
  CHECK(w->count() == 2);
  std::string bytes = w->take();
  CHECK(w->count() == 0);
  REQUIRE(patch_partition(Format::protobuf, bytes, "0123456789abcdef"));
  const auto messages = parse_delimited(bytes);
  REQUIRE(messages.size() == 2);
  const auto& r = messages[0].record();
  CHECK(messages[0].type_case() == pb::AirbyteMessageProtobuf::kRecord);
  CHECK(r.has_stream_namespace());
  CHECK(r.stream_namespace() == "shop");
  CHECK(r.stream_name() == "orders");
  CHECK(r.emitted_at_ms() == 1700000000123ULL);
  CHECK(r.partition_id() == "0123456789abcdef");
  CHECK(messages[1].record().partition_id() == "0123456789abcdef");
  // Ascending byte order: '_' (0x5F) sorts before lowercase letters.
  const std::vector<std::string> order{"_ab_cdc_deleted_at",
                                       "_ab_cdc_updated_at",
                                       "_planetscale_metadata",
                                       "amount",
                                       "at",
                                       "big",
                                       "clock",
                                       "day",
                                       "doc",
                                       "flag",
                                       "missing",
                                       "name",
                                       "neg",
                                       "ratio",
                                       "raw",
                                       "ts",
                                       "zeta"};
  REQUIRE(r.data_size() == static_cast<int>(order.size()));
  auto v = [&](const std::string& name) -> const pb::AirbyteValueProtobuf& {
    const auto i = std::find(order.begin(), order.end(), name) - order.begin();
    return r.data(static_cast<int>(i));
  };
  CHECK(v("_ab_cdc_deleted_at").is_null());
  CHECK(v("_ab_cdc_updated_at").timestamp_with_timezone().epoch_second() == 1700000000);
  CHECK(v("_ab_cdc_updated_at").timestamp_with_timezone().nano() == 0);
  CHECK(v("_planetscale_metadata").json() ==
        R"({"extracted_at":1700000000000000000,"sequence_number":7,"vgtid_position":"MySQL56/u:1-5"})");
  CHECK(v("amount").big_decimal() == "12.500");
  CHECK(v("at").timestamp_without_timezone().date_days_since_epoch() == -1);
  CHECK(v("at").timestamp_without_timezone().nanos_of_day() == 86399250000000ULL);
  CHECK(v("big").big_integer() == "18446744073709551615");
  CHECK(v("clock").is_null());      // -01:00:00 has no member; listed in meta below
  CHECK(v("day").date() == 19782);  // 2024-02-29
  CHECK(v("doc").string() == R"({"a": 1})");
  CHECK(v("flag").value_case() == pb::AirbyteValueProtobuf::kBoolean);
  CHECK(v("flag").boolean());
  CHECK(v("missing").is_null());
  // A null is exactly field 13 = 1 and no oneof member (docs/speed-mode.md, "Null"): the typed
  // schema reads is_null; decoders of every version in Airbyte's sources read an unset member as null.
  CHECK(v("missing").SerializeAsString() == std::string("\x68\x01", 2));
  CHECK(v("missing").value_case() == pb::AirbyteValueProtobuf::VALUE_NOT_SET);
  CHECK(v("name").string() == "a \"q\" é");
  CHECK(v("neg").is_null());
  CHECK(v("ratio").number() == 1.5);
  CHECK(v("raw").string() == "AP8=");
  CHECK(v("ts").timestamp_with_timezone().epoch_second() == 1614834367);
  CHECK(v("ts").timestamp_with_timezone().offset_seconds() == 0);
  CHECK(v("zeta").value_case() == pb::AirbyteValueProtobuf::kInteger);
  CHECK(v("zeta").integer() == -7);
  REQUIRE(r.meta().changes_size() == 1);
  CHECK(r.meta().changes(0).field() == "clock");
  CHECK(r.meta().changes(0).change() == pb::NULLED);
  CHECK(r.meta().changes(0).reason() == pb::SOURCE_SERIALIZATION_ERROR);
  // No namespace: the optional field is absent.
  auto bare = make_protobuf_record_writer({"orders", ""}, {"zeta"});
  bare->write(row);
  std::string b2 = bare->take();
  REQUIRE(patch_partition(Format::protobuf, b2, "ffffffffffffffff"));
  const auto m2 = parse_delimited(b2);
  REQUIRE(m2.size() == 1);
  CHECK_FALSE(m2[0].record().has_stream_namespace());
  CHECK(m2[0].record().data_size() == 1);
  CHECK(m2[0].record().data(0).integer() == -7);
}

TEST_CASE("PROTOBUF records without catalog properties: the row's members in name order, as the members change") {
  std::vector<vitess::Column> two{column("zed", query::INT64, "bigint"), column("alpha", query::INT64, "bigint")};
  std::vector<vitess::Column> three{column("zed", query::INT64, "bigint"), column("alpha", query::INT64, "bigint"),
                                    column("mid", query::INT64, "bigint")};
  std::vector<vitess::Cell> cells2{{"1", false}, {"2", false}}, cells3{{"4", false}, {"5", false}, {"6", false}};
  std::vector<std::uint32_t> sel2{0, 1}, sel3{0, 1, 2}, sel_one{0};
  auto w = make_protobuf_record_writer({"orders", "shop"}, {});
  auto put = [&](std::vector<vitess::Column>& cols, std::vector<vitess::Cell>& cells, std::vector<std::uint32_t>& sel) {
    engine::RowView row;
    row.columns = cols;
    row.cells = cells;
    row.selection = sel;
    w->write(row);
  };
  put(two, cells2, sel2);       // alpha, zed
  put(two, cells2, sel2);       // the same members again
  put(three, cells3, sel3);     // a column added: alpha, mid, zed
  put(three, cells3, sel_one);  // fewer selected: zed only
  std::string bytes = w->take();
  REQUIRE(patch_partition(Format::protobuf, bytes, "ffffffffffffffff"));
  const auto m = parse_delimited(bytes);
  REQUIRE(m.size() == 4);
  auto ints = [](const pb::AirbyteRecordMessageProtobuf& r) {
    std::vector<std::int64_t> v;
    for (const auto& d : r.data()) v.push_back(d.integer());
    return v;
  };
  CHECK(ints(m[0].record()) == std::vector<std::int64_t>{2, 1});
  CHECK(ints(m[1].record()) == std::vector<std::int64_t>{2, 1});
  CHECK(ints(m[2].record()) == std::vector<std::int64_t>{5, 6, 4});
  CHECK(ints(m[3].record()) == std::vector<std::int64_t>{4});
}

TEST_CASE("JSONL records: RECORD lines with partition_id first; patching rejects what is not a record") {
  std::vector<vitess::Column> cols{column("id", query::INT64, "bigint"), column("name", query::VARCHAR, "varchar(9)")};
  std::vector<vitess::Cell> cells{{"42", false}, {"x", false}};
  std::vector<std::uint32_t> selection{0, 1};
  engine::RowView row;
  row.emitted_at = 1700000000000;
  row.columns = cols;
  row.cells = cells;
  row.selection = selection;
  auto w = make_jsonl_record_writer({"orders", "shop"});
  w->write(row);
  w->write(row);
  std::string lines = w->take();
  REQUIRE(patch_partition(Format::jsonl, lines, "00000000deadbeef"));
  const std::string one =
      R"({"type":"RECORD","record":{"partition_id":"00000000deadbeef","stream":"orders","namespace":"shop","emitted_at":1700000000000,"data":{"id":42,"name":"x"}}})"
      "\n";
  CHECK(lines == one + one);
  std::string not_records = "{\"type\":\"STATE\"}\n";
  CHECK_FALSE(patch_partition(Format::jsonl, not_records, "00000000deadbeef"));
  std::string garbage =
      "\x05\x12\x03"
      "abc";
  CHECK_FALSE(patch_partition(Format::protobuf, garbage, "00000000deadbeef"));
  CHECK_FALSE(patch_partition(Format::jsonl, lines, "short"));
}

TEST_CASE("STATE of socket mode: id and partition_id are members of the state object") {
  CHECK(
      partitioned_state({"users", "db"}, cursor_state("-80", "abc"), 12, 3, "00000000deadbeef") ==
      R"({"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"users","namespace":"db"},"stream_state":)" +
          airbyte::render_stream_state(cursor_state("-80", "abc")) +
          R"(},"sourceStats":{"recordCount":12.0},"id":3,"partition_id":"00000000deadbeef"}})"
          "\n");
}

TEST_CASE("control messages and probes: JSON text in airbyte_protocol_message, an empty probe") {
  const std::string line = "{\"type\":\"STATE\"}\n";
  CHECK(frame_control(Format::jsonl, line) == line);
  const auto framed = parse_delimited(frame_control(Format::protobuf, line));
  REQUIRE(framed.size() == 1);
  CHECK(framed[0].airbyte_protocol_message() == "{\"type\":\"STATE\"}");
  CHECK(probe_message(Format::jsonl) == "\n");
  const auto probe = parse_delimited(probe_message(Format::protobuf));
  REQUIRE(probe.size() == 1);
  CHECK(probe[0].type_case() == pb::AirbyteMessageProtobuf::kProbe);
}

TEST_CASE("temporal texts: dates, times of day, offsets; invalid ones refused") {
  LocalDateTime t;
  REQUIRE(parse_date_time("1970-01-01", t));
  CHECK(t.days == 0);
  CHECK_FALSE(t.has_time);
  REQUIRE(parse_date_time("0001-01-01T00:00:00.000001", t));
  CHECK(t.days == -719162);
  CHECK(t.nanos_of_day == 1000);
  REQUIRE(parse_date_time("2024-03-01 10:00:00-05:30", t));
  CHECK(t.offset_seconds == -(5 * 3600 + 30 * 60));
  REQUIRE(parse_date_time("2023-11-14T22:13:20Z", t));
  CHECK(t.has_offset);
  CHECK(t.offset_seconds == 0);
  for (const char* bad : {"2023-02-29", "0000-00-00", "2023-13-01", "2023-01-01T24:00:00", "2023-01-01T", "20230101",
                          "2023-01-01T00:00:00+5", "2023-01-01T00:00:00."}) {
    INFO(bad);
    CHECK_FALSE(parse_date_time(bad, t));
  }
  std::uint64_t n = 0;
  REQUIRE(parse_time_of_day("23:59:59.999999", n));
  CHECK(n == 86399999999000ULL);
  CHECK_FALSE(parse_time_of_day("24:00:00", n));
  CHECK_FALSE(parse_time_of_day("-00:00:01", n));
  CHECK_FALSE(parse_time_of_day("838:59:59", n));
}

TEST_CASE("SocketOutput: records on their socket, STATE after them with id, partition and its count") {
  int pairs[2][2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, pairs[0]) == 0);
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, pairs[1]) == 0);
  int out_pipe[2];
  REQUIRE(::pipe(out_pipe) == 0);
  airbyte::ConfiguredCatalog catalog;
  catalog.streams.resize(1);
  catalog.streams[0].name = "orders";
  catalog.streams[0].ns = "shop";
  catalog.streams[0].columns = {"id"};
  {
    boost::asio::io_context io(1);
    airbyte::MessageWriter out(out_pipe[1]);
    airbyte::EmitterOptions eo;
    eo.clock = [] { return 5; };
    airbyte::Emitter em(io.get_executor(), {catalog.streams[0].descriptor()}, out, eo);
    boost::asio::co_spawn(io, em.run(), boost::asio::detached);
    SocketOutputOptions so;
    so.format = Format::jsonl;
    so.clock = [] { return 5; };
    SocketOutput output(io, em, catalog, {{"/a", pairs[0][0]}, {"/b", pairs[1][0]}}, so);
    output.start();
    std::vector<vitess::Column> cols{column("id", query::INT64, "bigint")};
    std::vector<vitess::Cell> cells{{"1", false}};
    std::vector<std::uint32_t> selection{0};
    engine::RowView row;
    row.emitted_at = 9;
    row.columns = cols;
    row.cells = cells;
    row.selection = selection;
    auto rows = [&](int n) {
      auto w = output.row_writer(catalog.streams[0].descriptor(), {"id"});
      for (int i = 0; i < n; ++i) w->write(row);
      return w->take();
    };
    // Built outside the coroutine: GCC 12 mishandles initializer lists inside one (CONTRIBUTING.md).
    std::vector<engine::Batch> batches;
    batches.emplace_back(0, rows(2), 2, "-80");
    batches.emplace_back(0, rows(3), 3, "80-", cursor_state("-80", "c1"));
    batches.emplace_back(0, rows(1), 1, "-80", cursor_state("-80", "c2"));
    std::vector<bool> taken;
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
          taken.push_back(co_await output.started(0));
          for (auto& b : batches) taken.push_back(co_await output.push(std::move(b)));
          taken.push_back(co_await output.complete(0));
          co_await output.shutdown();
        },
        boost::asio::detached);
    io.run();
    CHECK(taken == std::vector<bool>(5, true));
  }
  ::close(out_pipe[1]);
  auto drain = [](int fd) {
    std::string s;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) s.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    return s;
  };
  const std::string a = drain(pairs[0][1]), b = drain(pairs[1][1]), stdout_text = drain(out_pipe[0]);
  auto lines_of = [](const std::string& s) {
    std::vector<std::string> v;
    std::istringstream in(s);
    std::string l;
    while (std::getline(in, l)) v.push_back(l);
    return v;
  };
  const auto la = lines_of(a), lb = lines_of(b), lo = lines_of(stdout_text);
  // Shard -80 → socket a (first seen), 80- → socket b. Statuses go to both.
  REQUIRE(la.size() == 2 + 2 + 1 + 1 + 1);  // STARTED RUNNING, 2 records, 1 record, STATE 2, COMPLETE
  REQUIRE(lb.size() == 2 + 3 + 1 + 1);      // STARTED RUNNING, 3 records, STATE 1, COMPLETE
  auto state_of = [](const std::string& line) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    REQUIRE(std::string(d["type"].GetString()) == "STATE");
    return std::make_tuple(d["state"]["id"].GetInt(), std::string(d["state"]["partition_id"].GetString()),
                           d["state"]["sourceStats"]["recordCount"].GetDouble());
  };
  auto partition_of = [](const std::string& line) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    REQUIRE(std::string(d["type"].GetString()) == "RECORD");
    return std::string(d["record"]["partition_id"].GetString());
  };
  const auto [id1, p1, n1] = state_of(lb[5]);
  CHECK(id1 == 1);
  CHECK(n1 == 5.0);  // 2 records on a + 3 on b
  CHECK(partition_of(la[2]) == p1);
  CHECK(partition_of(la[3]) == p1);
  CHECK(partition_of(lb[2]) == p1);
  const auto [id2, p2, n2] = state_of(la[5]);
  CHECK(id2 == 2);
  CHECK(n2 == 1.0);
  CHECK(p2 != p1);
  CHECK(partition_of(la[4]) == p2);
  CHECK(la[6].find("\"COMPLETE\"") != std::string::npos);
  CHECK(lb[6].find("\"COMPLETE\"") != std::string::npos);
  // stdout: STARTED, RUNNING, the two STATE lines exactly as on the sockets, COMPLETE; no RECORD.
  REQUIRE(lo.size() == 5);
  CHECK(lo[2] == lb[5]);
  CHECK(lo[3] == la[5]);
  CHECK(lo[4].find("\"COMPLETE\"") != std::string::npos);
}

TEST_CASE("SocketOutput: a socket the destination closed fails the push, no STATE follows, INCOMPLETE names it") {
  int pair[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
  ::close(pair[1]);  // the destination went away
  int out_pipe[2];
  REQUIRE(::pipe(out_pipe) == 0);
  airbyte::ConfiguredCatalog catalog;
  catalog.streams.resize(1);
  catalog.streams[0].name = "orders";
  {
    boost::asio::io_context io(1);
    airbyte::MessageWriter out(out_pipe[1]);
    airbyte::Emitter em(io.get_executor(), {catalog.streams[0].descriptor()}, out);
    boost::asio::co_spawn(io, em.run(), boost::asio::detached);
    SocketOutput output(io, em, catalog, {{"/gone.sock", pair[0]}}, {});
    std::vector<engine::Batch> batches;
    batches.emplace_back(0, std::string(), 0, "-", cursor_state("-", "c"));
    batches.emplace_back(0, std::string(), 0, "-", cursor_state("-", "c"));
    Error stopped = system_error("the output stopped taking rows");
    std::vector<bool> taken;
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
          for (auto& b : batches) taken.push_back(co_await output.push(std::move(b)));
          taken.push_back(co_await output.incomplete(0, stopped));
          co_await output.shutdown();
        },
        boost::asio::detached);
    io.run();
    CHECK(taken == std::vector<bool>{false, false, true});
  }
  ::close(out_pipe[1]);
  std::string s;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(out_pipe[0], buf, sizeof buf)) > 0) s.append(buf, static_cast<std::size_t>(n));
  ::close(out_pipe[0]);
  CHECK(s.find("\"STATE\"") == std::string::npos);
  CHECK(s.find("\"failure_type\":\"transient_error\"") != std::string::npos);
  CHECK(s.find("the destination closed the data channel socket '/gone.sock' during the sync") != std::string::npos);
  CHECK(s.find("\"INCOMPLETE\"") != std::string::npos);
}

TEST_CASE("SocketOutput: an idle socket gets probe messages, a busy one none") {
  int pair[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
  int out_pipe[2];
  REQUIRE(::pipe(out_pipe) == 0);
  airbyte::ConfiguredCatalog catalog;
  catalog.streams.resize(1);
  catalog.streams[0].name = "orders";
  {
    boost::asio::io_context io(1);
    airbyte::MessageWriter out(out_pipe[1]);
    airbyte::Emitter em(io.get_executor(), {catalog.streams[0].descriptor()}, out);
    boost::asio::co_spawn(io, em.run(), boost::asio::detached);
    SocketOutputOptions so;
    so.format = Format::protobuf;
    so.probe_interval = std::chrono::milliseconds(50);
    SocketOutput output(io, em, catalog, {{"/idle.sock", pair[0]}}, so);
    output.start();
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
          // The behaviour under test is the idle time itself: 300 ms is 6 probe intervals.
          boost::asio::steady_timer idle(io, std::chrono::milliseconds(300));
          co_await idle.async_wait(boost::asio::use_awaitable);
          co_await output.shutdown();
        },
        boost::asio::detached);
    io.run();
  }
  ::close(out_pipe[1]);
  ::close(out_pipe[0]);
  std::string s;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pair[1], buf, sizeof buf)) > 0) s.append(buf, static_cast<std::size_t>(n));
  ::close(pair[1]);
  const auto messages = parse_delimited(s);
  CHECK(messages.size() >= 2);  // at least two of the six (a loaded machine delays timers)
  CHECK(messages.size() <= 7);
  for (const auto& m : messages) CHECK(m.type_case() == pb::AirbyteMessageProtobuf::kProbe);
}

TEST_CASE("SocketOutput: one stream's shards write to their sockets at once; a STATE waits for every socket") {
  // Socket a's destination reads nothing at first: a batch far larger than the kernel buffer
  // stays unwritten there. The stream's other shard (socket b) must still get its rows through,
  // and the STATE (due on b) must wait until a's rows were written.
  int pairs[2][2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, pairs[0]) == 0);
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, pairs[1]) == 0);
  int out_pipe[2];
  REQUIRE(::pipe(out_pipe) == 0);
  airbyte::ConfiguredCatalog catalog;
  catalog.streams.resize(1);
  catalog.streams[0].name = "orders";
  catalog.streams[0].columns = {"id"};
  constexpr int kBig = 30000;  // ~3 MB of RECORD lines: more than a socket buffer, less than a queue
  std::string on_b;            // what b's destination read while a was blocked
  bool b_got_rows = false, state_waited = false, state_taken = false;
  std::thread drain_a;
  std::string on_a;
  {
    boost::asio::io_context io(1);
    airbyte::MessageWriter out(out_pipe[1]);
    airbyte::Emitter em(io.get_executor(), {catalog.streams[0].descriptor()}, out);
    boost::asio::co_spawn(io, em.run(), boost::asio::detached);
    SocketOutputOptions so;
    so.format = Format::jsonl;
    SocketOutput output(io, em, catalog, {{"/a", pairs[0][0]}, {"/b", pairs[1][0]}}, so);
    output.start();
    std::vector<vitess::Column> cols{column("id", query::INT64, "bigint")};
    std::vector<vitess::Cell> cells{{"1", false}};
    std::vector<std::uint32_t> selection{0};
    engine::RowView row;
    row.columns = cols;
    row.cells = cells;
    row.selection = selection;
    auto rows = [&](int n) {
      auto w = output.row_writer(catalog.streams[0].descriptor(), {"id"});
      for (int i = 0; i < n; ++i) w->write(row);
      return w->take();
    };
    std::vector<engine::Batch> batches;
    batches.emplace_back(0, rows(kBig), kBig, "-80");
    batches.emplace_back(0, rows(3), 3, "80-");
    batches.emplace_back(0, std::string(), 0, "80-", cursor_state("80-", "c1"));
    auto read_b = [&] {  // what b has now, without blocking
      char buf[65536];
      ssize_t n;
      while ((n = ::recv(pairs[1][1], buf, sizeof buf, MSG_DONTWAIT)) > 0)
        on_b.append(buf, static_cast<std::size_t>(n));
    };
    auto count = [](const std::string& s, const std::string& needle) {
      std::size_t n = 0;
      for (auto p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) ++n;
      return n;
    };
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
          boost::asio::steady_timer t(io);
          CHECK(co_await output.started(0));
          CHECK(co_await output.push(std::move(batches[0])));
          CHECK(co_await output.push(std::move(batches[1])));
          for (int i = 0; i < 300 && count(on_b, "\"RECORD\"") < 3; ++i) {  // bounded: 300 × 10 ms
            t.expires_after(std::chrono::milliseconds(10));
            co_await t.async_wait(boost::asio::use_awaitable);
            read_b();
          }
          b_got_rows = count(on_b, "\"RECORD\"") == 3;
          boost::asio::co_spawn(
              io, [&]() -> boost::asio::awaitable<void> { state_taken = co_await output.push(std::move(batches[2])); },
              boost::asio::detached);
          // The STATE may not be written while a holds unwritten rows: 300 ms and still nothing.
          t.expires_after(std::chrono::milliseconds(300));
          co_await t.async_wait(boost::asio::use_awaitable);
          read_b();
          state_waited = !state_taken && count(on_b, "\"STATE\"") == 0;
          drain_a = std::thread([&] {
            char buf[65536];
            ssize_t n;
            while ((n = ::read(pairs[0][1], buf, sizeof buf)) > 0) on_a.append(buf, static_cast<std::size_t>(n));
          });
          for (int i = 0; i < 500 && !state_taken; ++i) {  // bounded: 500 × 10 ms
            t.expires_after(std::chrono::milliseconds(10));
            co_await t.async_wait(boost::asio::use_awaitable);
          }
          CHECK(co_await output.complete(0));
          co_await output.shutdown();
        },
        boost::asio::detached);
    io.run();
  }
  drain_a.join();
  ::close(out_pipe[1]);
  {
    char buf[65536];
    ssize_t n;
    while ((n = ::read(pairs[1][1], buf, sizeof buf)) > 0) on_b.append(buf, static_cast<std::size_t>(n));
  }
  std::string stdout_text;
  {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(out_pipe[0], buf, sizeof buf)) > 0) stdout_text.append(buf, static_cast<std::size_t>(n));
  }
  for (int fd : {pairs[0][1], pairs[1][1], out_pipe[0]}) ::close(fd);
  CHECK(b_got_rows);    // b was written while a's writer was stuck
  CHECK(state_waited);  // the STATE waited for a
  CHECK(state_taken);
  auto count = [](const std::string& s, const std::string& needle) {
    std::size_t n = 0;
    for (auto p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) ++n;
    return n;
  };
  CHECK(count(on_a, "\"RECORD\"") == kBig);
  CHECK(count(on_a, "\"STATE\"") == 0);
  CHECK(count(on_b, "\"RECORD\"") == 3);
  REQUIRE(count(on_b, "\"STATE\"") == 1);
  CHECK(on_b.find("\"STATE\"") > on_b.rfind("\"RECORD\""));
  CHECK(on_b.find("\"recordCount\":30003") != std::string::npos);
  CHECK(count(stdout_text, "\"STATE\"") == 1);
}
