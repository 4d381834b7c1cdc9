#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "airbyte/messages.hpp"

using namespace sv::airbyte;

TEST_CASE("messages: exact JSON of every control message") {
  const StreamDescriptor users{"users", "db"};
  std::string out;
  append_stream_status(out, users, StreamStatus::started, 1700000000000);
  CHECK(
      out ==
      R"({"type":"TRACE","trace":{"type":"STREAM_STATUS","emitted_at":1700000000000,"stream_status":{"stream_descriptor":{"name":"users","namespace":"db"},"status":"STARTED"}}})"
      "\n");
  out.clear();
  append_stream_status(out, StreamDescriptor{"t", ""}, StreamStatus::incomplete, 5);
  CHECK(
      out ==
      R"({"type":"TRACE","trace":{"type":"STREAM_STATUS","emitted_at":5,"stream_status":{"stream_descriptor":{"name":"t"},"status":"INCOMPLETE"}}})"
      "\n");
  out.clear();
  append_error_trace(out, sv::transient_error("shard -80 failed", "UNAVAILABLE: x"), &users, 6);
  CHECK(
      out ==
      R"({"type":"TRACE","trace":{"type":"ERROR","emitted_at":6,"error":{"message":"shard -80 failed","internal_message":"UNAVAILABLE: x","failure_type":"transient_error","stream_descriptor":{"name":"users","namespace":"db"}}}})"
      "\n");
  out.clear();
  append_error_trace(out, sv::config_error("bad \"host\""), nullptr, 7);
  CHECK(
      out ==
      R"({"type":"TRACE","trace":{"type":"ERROR","emitted_at":7,"error":{"message":"bad \"host\"","failure_type":"config_error"}}})"
      "\n");
  out.clear();
  append_estimate(out, users, 1000, 64000, 8);
  CHECK(
      out ==
      R"({"type":"TRACE","trace":{"type":"ESTIMATE","emitted_at":8,"estimate":{"name":"users","type":"STREAM","namespace":"db","row_estimate":1000,"byte_estimate":64000}}})"
      "\n");
  out.clear();
  append_state(out, users, R"({"shards":{}})", 0);
  CHECK(
      out ==
      R"({"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"users","namespace":"db"},"stream_state":{"shards":{}}},"sourceStats":{"recordCount":0.0}}})"
      "\n");
  out.clear();
  append_log(out, LogLevel::warn, "careful");
  CHECK(out == R"({"type":"LOG","log":{"level":"WARN","message":"careful"}})"
               "\n");
  out.clear();
  append_connection_status(out, true, "");
  append_connection_status(out, false, "no route");
  CHECK(out == R"({"type":"CONNECTION_STATUS","connectionStatus":{"status":"SUCCEEDED"}})"
               "\n"
               R"({"type":"CONNECTION_STATUS","connectionStatus":{"status":"FAILED","message":"no route"}})"
               "\n");
  out.clear();
  append_catalog(out, {R"({"name":"a"})", R"({"name":"b"})"});
  CHECK(out == R"({"type":"CATALOG","catalog":{"streams":[{"name":"a"},{"name":"b"}]}})"
               "\n");
  out.clear();
  append_catalog(out, {});
  CHECK(out == R"({"type":"CATALOG","catalog":{"streams":[]}})"
               "\n");
}

TEST_CASE("messages: invalid UTF-8 in any string of any message becomes U+FFFD") {
  // "\xff" (never valid), "\xc3" cut short, an overlong '/' and a UTF-16 surrogate: each bad
  // byte becomes one U+FFFD (as Go's encoder and the row decoder do); valid text stays as it is.
  const std::string bad = "h\xffst-\xc3-\xc0\xaf-\xed\xa0\x80-\xc3\xa9";
  const std::string r = "\xEF\xBF\xBD";  // U+FFFD
  const std::string good = "h" + r + "st-" + r + "-" + r + r + "-" + r + r + r + "-\xc3\xa9";
  const StreamDescriptor stream{bad, bad};
  std::string out;
  append_stream_status(out, stream, StreamStatus::started, 1);
  CHECK(
      out ==
      R"({"type":"TRACE","trace":{"type":"STREAM_STATUS","emitted_at":1,"stream_status":{"stream_descriptor":{"name":")" +
          good + R"(","namespace":")" + good +
          R"("},"status":"STARTED"}}})"
          "\n");
  out.clear();
  append_error_trace(out, sv::config_error("unknown command '" + bad + "'", bad), &stream, 2);
  CHECK(out == R"({"type":"TRACE","trace":{"type":"ERROR","emitted_at":2,"error":{"message":"unknown command ')" +
                   good + R"('","internal_message":")" + good +
                   R"(","failure_type":"config_error","stream_descriptor":{"name":")" + good + R"(","namespace":")" +
                   good +
                   R"("}}}})"
                   "\n");
  out.clear();
  append_estimate(out, stream, 1, 2, 3);
  CHECK(out == R"({"type":"TRACE","trace":{"type":"ESTIMATE","emitted_at":3,"estimate":{"name":")" + good +
                   R"(","type":"STREAM","namespace":")" + good +
                   R"(","row_estimate":1,"byte_estimate":2}}})"
                   "\n");
  out.clear();
  append_state(out, stream, R"({"shards":{")" + bad + R"(":{"cursor":"x"}}})", 4);
  CHECK(out == R"({"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":")" + good +
                   R"(","namespace":")" + good + R"("},"stream_state":{"shards":{")" + good +
                   R"(":{"cursor":"x"}}}},"sourceStats":{"recordCount":4.0}}})"
                   "\n");
  out.clear();
  append_log(out, LogLevel::info, bad);
  CHECK(out == R"({"type":"LOG","log":{"level":"INFO","message":")" + good +
                   R"("}})"
                   "\n");
  out.clear();
  append_connection_status(out, false, "Unknown host '" + bad + "': check the host name");
  CHECK(out == R"({"type":"CONNECTION_STATUS","connectionStatus":{"status":"FAILED","message":"Unknown host ')" + good +
                   R"(': check the host name"}})"
                   "\n");
  out.clear();
  append_catalog(out, {R"({"name":")" + bad + R"(","json_schema":{"properties":{")" + bad + R"(":{}}}})"});
  CHECK(out == R"({"type":"CATALOG","catalog":{"streams":[{"name":")" + good + R"(","json_schema":{"properties":{")" +
                   good +
                   R"(":{}}}}]}})"
                   "\n");
  const RecordSerializer serializer(stream);
  CHECK(serializer.prefix() ==
        R"({"type":"RECORD","record":{"stream":")" + good + R"(","namespace":")" + good + R"(","emitted_at":)");
}

TEST_CASE("messages: RECORD lines via RecordSerializer and RecordBatch") {
  const RecordSerializer ser(StreamDescriptor{"cust\"omers", "shop"});
  CHECK(ser.prefix() == R"({"type":"RECORD","record":{"stream":"cust\"omers","namespace":"shop","emitted_at":)");
  RecordBatch batch;
  auto& w = batch.begin(ser, 1738314900123);
  w.StartObject();
  w.Key("id");
  w.Int(42);
  w.Key("email");
  w.String("a@example.com");
  w.EndObject();
  batch.end();
  auto& w2 = batch.begin(ser, 1738314900124);
  w2.StartObject();
  w2.Key("id");
  w2.Int(43);
  batch.abandon();  // e.g. a value could not be serialized
  auto& w3 = batch.begin(ser, -1);
  w3.StartObject();
  w3.EndObject();
  batch.end();
  CHECK(batch.count() == 2);
  const std::string lines = batch.take();
  CHECK(
      lines ==
      R"({"type":"RECORD","record":{"stream":"cust\"omers","namespace":"shop","emitted_at":1738314900123,"data":{"id":42,"email":"a@example.com"}}})"
      "\n"
      R"({"type":"RECORD","record":{"stream":"cust\"omers","namespace":"shop","emitted_at":-1,"data":{}}})"
      "\n");
  CHECK(batch.count() == 0);
  CHECK(batch.size_bytes() == 0);
  const RecordSerializer no_ns(StreamDescriptor{"t", ""});
  auto& w4 = batch.begin(no_ns, 1);
  w4.StartObject();
  w4.EndObject();
  batch.end();
  CHECK(batch.take() == R"({"type":"RECORD","record":{"stream":"t","emitted_at":1,"data":{}}})"
                        "\n");
}

TEST_CASE("messages: one RecordSerializer shared by threads, a RecordBatch per thread") {
  const RecordSerializer ser(StreamDescriptor{"t", "ks"});
  constexpr int kThreads = 4;
  constexpr int kRows = 5000;
  std::vector<std::string> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      RecordBatch batch;
      for (int i = 0; i < kRows; ++i) {
        auto& w = batch.begin(ser, 10);
        w.StartObject();
        w.Key("t");
        w.Int(t);
        w.Key("i");
        w.Int(i);
        w.EndObject();
        batch.end();
      }
      results[t] = batch.take();
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    std::string expected;
    for (int i = 0; i < kRows; ++i) {
      expected += R"({"type":"RECORD","record":{"stream":"t","namespace":"ks","emitted_at":10,"data":{"t":)" +
                  std::to_string(t) + ",\"i\":" + std::to_string(i) + "}}}\n";
    }
    CHECK(results[t] == expected);
  }
}
