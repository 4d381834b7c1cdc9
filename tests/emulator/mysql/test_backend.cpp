// Integration: the MariaDB backend over two real MariaDB shards, driven through the Backend
// interface exactly as the VStream server drives it (coroutines on one io_context).
#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "emulator/mysql/binlog_reader.hpp"
#include "emulator/mysql/mariadb_backend.hpp"
#include "test_util.hpp"

using namespace sv::emulator::mysql;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using sv::emulator::Transaction;
using svtest::values;

namespace {

template <class F>
void run_coro(asio::io_context& io, F f) {
  std::exception_ptr err;
  asio::co_spawn(io, f(), [&](std::exception_ptr e) { err = e; });
  io.restart();
  io.run();
  if (err) std::rethrow_exception(err);
}

}  // namespace

TEST_CASE("MariaDB backend: catalog, positions, copy and replication on two shards") {
  MariaDbInstance s1(svtest::instance_opts(11)), s2(svtest::instance_opts(12));
  SV_REQUIRE_OK(s1.start());
  SV_REQUIRE_OK(s2.start());
  for (auto* s : {&s1, &s2}) {
    auto c = s->connect();
    SV_REQUIRE_OK(c);
    SV_REQUIRE_OK(c->exec("CREATE DATABASE commerce"));
    SV_REQUIRE_OK(c->exec("CREATE TABLE commerce.product (sku VARCHAR(16) PRIMARY KEY, price DECIMAL(8,2))"));
    SV_REQUIRE_OK(c->exec("CREATE TABLE commerce.customer (id BIGINT UNSIGNED PRIMARY KEY, email TEXT)"));
  }
  {
    auto c = s1.connect();
    SV_REQUIRE_OK(c->exec("INSERT INTO commerce.customer VALUES (1,'a@x'),(2,'b@x'),(3,'c@x')"));  // seq 4
  }

  asio::io_context io;
  MariaDbBackendOptions o;
  o.keyspace = "commerce";
  o.shards = {{"-80", s1.conn_params(), 11, 11}, {"80-", s2.conn_params(), 12, 12}};
  o.threads = 4;
  o.heartbeat = 50ms;
  o.catalog_refresh = 0ms;
  MariaDbBackend backend(io.get_executor(), o);
  SV_REQUIRE_OK(backend.start());

  const std::string u1 = shard_uuid("commerce", "-80"), u2 = shard_uuid("commerce", "80-");
  CHECK(backend.uuid_of("-80") == u1);
  auto cat = backend.catalog();
  REQUIRE(cat.size() == 1);
  CHECK(cat[0].name == "commerce");
  CHECK(cat[0].shards == std::vector<std::string>{"-80", "80-"});
  REQUIRE(cat[0].tables.size() == 2);
  CHECK(cat[0].tables[0]->name == "customer");
  CHECK(cat[0].tables[1]->name == "product");
  CHECK(cat[0].tables[0]->fields[0].type() == query::UINT64);
  CHECK(cat[0].tables[0]->pk_columns == std::vector<size_t>{0});

  run_coro(io, [&]() -> asio::awaitable<void> {
    auto p1 = co_await backend.current_position("commerce", "-80");
    SV_REQUIRE_OK(p1);
    CHECK(p1->to_string() == "MySQL56/" + u1 + ":1-4");
    auto p2 = co_await backend.current_position("commerce", "80-");
    SV_REQUIRE_OK(p2);
    CHECK(p2->to_string() == "MySQL56/" + u2 + ":1-3");

    // Copy in batches of 2 with a lastpk resume. (Scoped: an open snapshot holds the table's
    // metadata lock, so an ALTER would wait for it, as on a real MySQL.)
    {
      auto copy = co_await backend.open_copy("commerce", "-80", "customer", nullptr);
      SV_REQUIRE_OK(copy);
      CHECK((*copy)->position() == *p1);
      CHECK((*copy)->schema()->name == "customer");
      auto b1 = co_await (*copy)->next(2);
      SV_REQUIRE_OK(b1);
      REQUIRE(b1->size() == 2);
      CHECK(values((*b1)[1]) == std::vector<std::string>{"2", "b@x"});
      auto b2 = co_await (*copy)->next(2);
      SV_REQUIRE_OK(b2);
      REQUIRE(b2->size() == 1);
      auto b3 = co_await (*copy)->next(2);
      SV_REQUIRE_OK(b3);
      CHECK(b3->empty());
      query::Row lastpk;
      append_value(lastpk, std::string_view("1"));
      auto copy2 = co_await backend.open_copy("commerce", "-80", "customer", &lastpk);
      SV_REQUIRE_OK(copy2);
      auto rest = co_await (*copy2)->next(10);
      SV_REQUIRE_OK(rest);
      REQUIRE(rest->size() == 2);
      CHECK(values((*rest)[0]) == std::vector<std::string>{"2", "b@x"});
    }

    // Replication from the copy position: writes after it, as typed transactions.
    auto repl = co_await backend.open_replication("commerce", "-80", *p1);
    SV_REQUIRE_OK(repl);
    auto idle = co_await (*repl)->next(100ms);
    SV_REQUIRE_OK(idle);
    CHECK_FALSE(idle->has_value());
    {
      auto c = s1.connect();
      SV_REQUIRE_OK(c->exec("UPDATE commerce.customer SET email='B@X' WHERE id=2"));                // 5
      SV_REQUIRE_OK(c->exec("ALTER TABLE commerce.customer ADD COLUMN vip TINYINT(1) DEFAULT 0"));  // 6
      SV_REQUIRE_OK(c->exec("INSERT INTO commerce.customer VALUES (4,'d@x',1)"));                   // 7
      SV_REQUIRE_OK(c->exec("CREATE TABLE commerce.extra (id INT PRIMARY KEY)"));                   // 8
    }
    std::vector<Transaction> got;
    for (int i = 0; i < 50 && got.size() < 4; ++i) {
      auto t = co_await (*repl)->next(100ms);
      SV_REQUIRE_OK(t);
      if (*t) got.push_back(std::move(**t));
    }
    REQUIRE(got.size() == 4);
    CHECK(got[0].kind == Transaction::Kind::rows);
    CHECK(got[0].position.to_string() == "MySQL56/" + u1 + ":1-5");
    REQUIRE(got[0].rows.size() == 1);
    CHECK(values(*got[0].rows[0].changes[0].before) == std::vector<std::string>{"2", "b@x"});
    CHECK(values(*got[0].rows[0].changes[0].after) == std::vector<std::string>{"2", "B@X"});
    CHECK(got[1].kind == Transaction::Kind::ddl);
    CHECK(got[1].statement == "ALTER TABLE commerce.customer ADD COLUMN vip TINYINT(1) DEFAULT 0");
    REQUIRE(got[1].new_schema);
    CHECK(got[1].new_schema->fields.size() == 3);
    CHECK(got[1].new_schema->fields[2].column_type() == "tinyint(1)");
    CHECK(got[1].new_schema->version > got[0].rows[0].schema->version);
    CHECK(got[2].rows.at(0).schema == got[1].new_schema);
    CHECK(values(*got[2].rows[0].changes[0].after) == std::vector<std::string>{"4", "d@x", "1"});
    CHECK(got[3].kind == Transaction::Kind::ddl);
    CHECK(got[3].position.to_string() == "MySQL56/" + u1 + ":1-8");
    // DDL seen by the stream updates the catalog at once.
    auto cat2 = backend.catalog();
    CHECK(cat2[0].tables.size() == 3);

    // Resume from a position mid-way: the next transaction exactly.
    auto again = co_await backend.open_replication("commerce", "-80", got[1].position);
    SV_REQUIRE_OK(again);
    std::optional<Transaction> first;
    for (int i = 0; i < 20 && !first; ++i) {
      auto t = co_await (*again)->next(100ms);
      SV_REQUIRE_OK(t);
      first = std::move(*t);
    }
    REQUIRE(first);
    CHECK(first->position.to_string() == "MySQL56/" + u1 + ":1-7");

    // A position of another shard's uuid is refused.
    auto wrong = co_await backend.open_replication("commerce", "-80", *p2);
    REQUIRE_FALSE(wrong.ok());
    CHECK(wrong.error().type == sv::FailureType::system_error);
  });
}

TEST_CASE("MariaDB backend: text columns carry their collation id and their stored bytes in both phases") {
  // As vttablet: Field.charset = the column's collation, cells in the column's own character set
  // (rowstreamer.go reads with `set names binary`; the binlog holds stored bytes).
  MariaDbInstance s1(svtest::instance_opts(13));
  SV_REQUIRE_OK(s1.start());
  {
    auto c = s1.connect();
    SV_REQUIRE_OK(c);
    SV_REQUIRE_OK(c->exec("CREATE DATABASE commerce"));
    SV_REQUIRE_OK(
        c->exec("CREATE TABLE commerce.t (id INT PRIMARY KEY, l1 VARCHAR(10) CHARACTER SET latin1, "
                "w VARCHAR(10) CHARACTER SET cp1251 COLLATE cp1251_bin, u VARCHAR(10) CHARACTER SET utf8mb4, "
                "b VARBINARY(4))"));
    SV_REQUIRE_OK(c->exec("INSERT INTO commerce.t VALUES (1, 'é€', 'Жё', 'é', X'E9')"));
  }
  asio::io_context io;
  MariaDbBackendOptions o;
  o.keyspace = "commerce";
  o.shards = {{"-", s1.conn_params(), 13, 13}};
  o.threads = 2;
  o.heartbeat = 50ms;
  o.catalog_refresh = 0ms;
  MariaDbBackend backend(io.get_executor(), o);
  SV_REQUIRE_OK(backend.start());
  auto collations = [](const sv::emulator::TableSchema& s) {
    std::vector<uint32_t> out;
    for (const auto& f : s.fields) out.push_back(f.charset());
    return out;
  };
  // 63 binary (numbers, VARBINARY), 8 latin1_swedish_ci, 50 cp1251_bin, 45 utf8mb4_general_ci
  const std::vector<uint32_t> expected{63, 8, 50, 45, 63};
  const std::vector<std::string> stored{"\xE9\x80", "\xC6\xB8", "\xC3\xA9", "\xE9"};
  run_coro(io, [&]() -> asio::awaitable<void> {
    auto p1 = co_await backend.current_position("commerce", "-");
    SV_REQUIRE_OK(p1);
    {
      auto copy = co_await backend.open_copy("commerce", "-", "t", nullptr);
      SV_REQUIRE_OK(copy);
      CHECK(collations(*(*copy)->schema()) == expected);
      auto rows = co_await (*copy)->next(10);
      SV_REQUIRE_OK(rows);
      REQUIRE(rows->size() == 1);
      std::vector<std::string> want{"1"};
      want.insert(want.end(), stored.begin(), stored.end());
      CHECK(values((*rows)[0]) == want);
    }
    auto repl = co_await backend.open_replication("commerce", "-", *p1);
    SV_REQUIRE_OK(repl);
    {
      auto c = s1.connect();
      SV_REQUIRE_OK(c->exec("INSERT INTO commerce.t VALUES (2, 'é€', 'Жё', 'é', X'E9')"));
    }
    std::optional<Transaction> got;
    for (int i = 0; i < 50 && !got; ++i) {
      auto t = co_await (*repl)->next(100ms);
      SV_REQUIRE_OK(t);
      got = std::move(*t);
    }
    REQUIRE(got);
    REQUIRE(got->rows.size() == 1);
    CHECK(collations(*got->rows[0].schema) == expected);
    std::vector<std::string> want{"2"};
    want.insert(want.end(), stored.begin(), stored.end());
    CHECK(values(*got->rows[0].changes[0].after) == want);
  });
}
