#!/usr/bin/env python3
"""Writes tests/fuzz/corpus/binlog/: real row events of a throwaway MariaDB (the server flags of
src/emulator/mysql/mariadb_instance.cpp: ROW format, FULL image, FULL row metadata) for a table
of every type family (the table of tests/emulator/mysql/test_binlog.cpp), each seed framed as
fuzz_binlog.cpp reads it: 1 byte ROWS type index, 2-byte LE length of the TABLE_MAP body, the
TABLE_MAP body, the ROWS body (bodies without the 19-byte header and the 4-byte CRC32).
Run from the repository root; takes a few seconds."""
import os
import shutil
import struct
import subprocess
import tempfile
import time

TABLE = """CREATE TABLE ks.types (
  id INT NOT NULL PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, b1 TINYINT(1), si SMALLINT, siu SMALLINT UNSIGNED,
  mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  dec1 DECIMAL(10,2), dec2 DECIMAL(30,10), dec3 DECIMAL(5,0),
  f FLOAT, d DOUBLE, fd FLOAT(7,3),
  dt DATE, dtm DATETIME, dtm3 DATETIME(3), dtm6 DATETIME(6), ts TIMESTAMP NULL DEFAULT NULL,
  ts2 TIMESTAMP(2) NULL DEFAULT NULL, tm TIME, tm4 TIME(4), yr YEAR,
  c CHAR(10), vc VARCHAR(300), tx TEXT, ttx TINYTEXT, bn BINARY(4), vb VARBINARY(20), bl BLOB,
  bt BIT(12), bt1 BIT(1), en ENUM('a,b','it''s','x'), st SET('p','q','s''t'), js JSON,
  l1 VARCHAR(10) CHARACTER SET latin1, u16 VARCHAR(10) CHARACTER SET utf16
)"""
SQL = [
    "CREATE DATABASE ks CHARACTER SET utf8mb4",
    TABLE,
    "INSERT INTO ks.types (id) VALUES (1)",
    "INSERT INTO ks.types VALUES (2,-128,0,0,-32768,0,-8388608,0,-2147483648,0,-9223372036854775808,0,"
    "-99999999.99,-12345678901234567890.0123456789,-99999,-3.40282e38,-1.7976931348623157e308,-9999.999,"
    "'1000-01-01','1000-01-01 00:00:00','1000-01-01 00:00:00.000','1000-01-01 00:00:00.000000',"
    "'1970-01-01 00:00:01','1970-01-01 00:00:01.00','-838:59:59','-838:59:59.0000',1901,'','','','',"
    "x'00000000','','',b'000000000000',b'0','a,b','','[]','','')",
    "INSERT INTO ks.types VALUES (3,127,255,1,32767,65535,8388607,16777215,2147483647,4294967295,"
    "9223372036854775807,18446744073709551615,99999999.99,12345678901234567890.0123456789,99999,3.40282e38,"
    "1.7976931348623157e308,9999.999,'9999-12-31','9999-12-31 23:59:59','9999-12-31 23:59:59.999',"
    "'9999-12-31 23:59:59.999999','2038-01-19 03:14:07','2038-01-19 03:14:07.99','838:59:59','838:59:59.9999',"
    "2155,'abc','h\u00e9llo \U0001F600',REPEAT('t',300),'tiny',x'41420000',x'00ff',x'deadbeef',b'111111111111',"
    "b'1','it''s','p,s''t','{\"a\": [1, 2.5, null]}','\u00e9t\u00e9','hi')",
    "UPDATE ks.types SET vc='changed', d=0.1, dtm6='2024-02-29 12:34:56.000001' WHERE id=3",
    "DELETE FROM ks.types WHERE id=2",
    "CREATE TABLE ks.small (id BIGINT UNSIGNED PRIMARY KEY, name VARCHAR(20))",
    "INSERT INTO ks.small VALUES (1,'a'),(2,NULL),(18446744073709551615,'max')",
    "UPDATE ks.small SET name='b' WHERE id<3",
    "FLUSH BINARY LOGS",
]
ROWS_TYPES = [23, 24, 25, 30, 31, 32]  # fuzz_binlog.cpp's kRowsTypes


def events(path):
    data = open(path, "rb").read()
    pos = 4  # magic
    while pos + 19 <= len(data):
        ts, typ, server, size, next_pos, flags = struct.unpack_from("<IBIIIH", data, pos)
        yield typ, data[pos + 19:pos + size - 4]  # body without the CRC32 checksum
        pos += size


def main():
    out = os.path.abspath("tests/fuzz/corpus/binlog")
    os.makedirs(out, exist_ok=True)
    d = tempfile.mkdtemp(prefix="binlog-seeds-")
    user = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run(["mariadb-install-db", "--no-defaults", "--datadir=" + d + "/data", "--auth-root-authentication-method=normal",
                    "--skip-test-db"] + user, check=True, capture_output=True)
    sock = d + "/sock"
    server = subprocess.Popen(["mariadbd", "--no-defaults", "--datadir=" + d + "/data", "--socket=" + sock, "--skip-networking",
                               "--log-bin=binlog", "--binlog-format=ROW", "--binlog-row-image=FULL",
                               "--binlog-row-metadata=FULL", "--server-id=1", "--log-error=" + d + "/err.log",
                               "--innodb-buffer-pool-size=16M", "--character-set-server=utf8mb4"] + user)
    try:
        for _ in range(300):
            if subprocess.run(["mariadb", "-S", sock, "-uroot", "-e", "SELECT 1"], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)  # a standalone seed tool, not a test: poll until the server answers
        for q in SQL:
            subprocess.run(["mariadb", "--default-character-set=utf8mb4", "-S", sock, "-uroot", "-e", q], check=True)
        table_map = None
        n = 0
        for name in sorted(os.listdir(d + "/data")):
            if not name.startswith("binlog.0"):
                continue
            for typ, body in events(d + "/data/" + name):
                if typ == 19:
                    table_map = body
                elif typ in ROWS_TYPES and table_map is not None:
                    n += 1
                    with open(os.path.join(out, "rows_%02d_type%d" % (n, typ)), "wb") as f:
                        f.write(bytes([ROWS_TYPES.index(typ)]) + struct.pack("<H", len(table_map)) + table_map + body)
        print("wrote", n, "seeds")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(d)


if __name__ == "__main__":
    main()
