// bench/go/baseline.go — ceiling (d): the emission path of PlanetScale's Go connector, rebuilt
// with Go's standard library only. It reads the same row dump as sv-bench-render (see
// bench/dump_format.hpp), turns every row into a map[string]interface{} of sqltypes-like values
// (MakeRowTrusted slicing, the Go connector's per-type formatting: DATE/DATETIME re-formatted
// through time.Parse, tinyint(1) → bool, numbers raw, everything else a quoted string) and
// encodes AirbyteMessage{type:"RECORD",record:{...}} lines with encoding/json into a buffered
// writer, as the Go connector does. gRPC and protobuf decoding are not included, so this is an
// upper bound for the Go connector's speed.
//
// Output: one JSON line on stdout: {"rows":N,"dropped":D,"bytes":B,"seconds":S,"cpu_seconds":C,"passes":P}
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"
)

type field struct {
	Name       string `json:"name"`
	Type       int    `json:"type"`
	TypeName   string `json:"type_name"`
	ColumnType string `json:"column_type"`
}

type header struct {
	Keyspace string  `json:"keyspace"`
	Table    string  `json:"table"`
	Fields   []field `json:"fields"`
}

// value mirrors vitess sqltypes.Value: a type and raw bytes, with its MarshalJSON.
type value struct {
	quoted bool
	null   bool
	val    []byte
}

func (v value) MarshalJSON() ([]byte, error) {
	switch {
	case v.null:
		return []byte("null"), nil
	case v.quoted:
		return json.Marshal(string(v.val))
	}
	return v.val, nil
}

type airbyteRecord struct {
	Stream    string                 `json:"stream"`
	Namespace string                 `json:"namespace"`
	EmittedAt int64                  `json:"emitted_at"`
	Data      map[string]interface{} `json:"data"`
}

type airbyteMessage struct {
	Type   string         `json:"type"`
	Log    *struct{}      `json:"log,omitempty"`
	Record *airbyteRecord `json:"record,omitempty"`
	State  *struct{}      `json:"state,omitempty"`
}

type row struct {
	lengths []int64
	values  []byte
}

func isNumeric(t string) bool {
	switch t {
	case "INT8", "UINT8", "INT16", "UINT16", "INT24", "UINT24", "INT32", "UINT32", "INT64", "UINT64",
		"FLOAT32", "FLOAT64", "DECIMAL", "YEAR":
		return true
	}
	return false
}

// parseValue follows the Go connector's per-type rules (docs: go-connector-reference §4.6).
func parseValue(f *field, raw []byte, null bool) interface{} {
	if null {
		return value{null: true}
	}
	switch f.TypeName {
	case "INT8":
		if strings.ToLower(f.ColumnType) == "tinyint(1)" {
			switch string(raw) {
			case "0":
				return false
			case "1":
				return true
			}
		}
		return value{val: raw}
	case "DECIMAL":
		if len(raw) > 0 && raw[0] == '.' {
			return value{val: append([]byte("0"), raw...)}
		}
		if len(raw) > 1 && raw[0] == '-' && raw[1] == '.' {
			return value{val: append([]byte("-0"), raw[1:]...)}
		}
		return value{val: raw}
	case "DATE":
		if t, err := time.Parse("2006-01-02", string(raw)); err == nil {
			return value{quoted: true, val: []byte(t.Format("2006-01-02"))}
		}
		return value{quoted: true, val: raw}
	case "DATETIME":
		if t, err := time.Parse("2006-01-02 15:04:05.999999", string(raw)); err == nil {
			return value{quoted: true, val: []byte(t.Format("2006-01-02T15:04:05.000000"))}
		}
		return value{quoted: true, val: raw}
	}
	if isNumeric(f.TypeName) {
		return value{val: raw}
	}
	return value{quoted: true, val: raw}
}

func readDump(path string) (*header, []row, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	const magic = "SVBENCH1\n"
	if !bytes.HasPrefix(data, []byte(magic)) {
		return nil, nil, fmt.Errorf("not a bench dump: %s", path)
	}
	data = data[len(magic):]
	nl := bytes.IndexByte(data, '\n')
	if nl < 0 {
		return nil, nil, fmt.Errorf("bad dump header")
	}
	var h header
	if err := json.Unmarshal(data[:nl], &h); err != nil {
		return nil, nil, err
	}
	data = data[nl+1:]
	var rows []row
	for len(data) >= 4 {
		n := int(binary.LittleEndian.Uint32(data))
		data = data[4:]
		if len(data) < 8*n {
			break
		}
		r := row{lengths: make([]int64, n)}
		total := 0
		for i := 0; i < n; i++ {
			r.lengths[i] = int64(binary.LittleEndian.Uint64(data[8*i:]))
			if r.lengths[i] > 0 {
				total += int(r.lengths[i])
			}
		}
		data = data[8*n:]
		if len(data) < total {
			break
		}
		r.values = data[:total]
		data = data[total:]
		rows = append(rows, r)
	}
	return &h, rows, nil
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func main() {
	dumpPath := flag.String("dump", "", "row dump written by sv-bench-discard")
	outPath := flag.String("out", "/dev/null", "where the RECORD lines go")
	minSeconds := flag.Float64("min-seconds", 0.5, "repeat whole passes until this much time has passed")
	flag.Parse()
	h, rows, err := readDump(*dumpPath)
	if err != nil || len(rows) == 0 {
		fmt.Fprintf(os.Stderr, "go-baseline: cannot use dump %q: %v\n", *dumpPath, err)
		os.Exit(1)
	}
	f, err := os.Create(*outPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "go-baseline: %v\n", err)
		os.Exit(1)
	}
	cw := &countingWriter{w: f}
	out := bufio.NewWriterSize(cw, 64*1024)
	enc := json.NewEncoder(out)
	emittedAt := time.Now().UnixMilli()

	cpu0 := cpuSeconds()
	start := time.Now()
	var count, passes, dropped uint64
	pending := 0
	for {
		for _, r := range rows {
			// sqltypes.MakeRowTrusted: slice the packed values by the lengths.
			data := make(map[string]interface{}, len(h.Fields))
			off := int64(0)
			for i := range h.Fields {
				l := r.lengths[i]
				if l < 0 {
					data[h.Fields[i].Name] = parseValue(&h.Fields[i], nil, true)
					continue
				}
				data[h.Fields[i].Name] = parseValue(&h.Fields[i], r.values[off:off+l], false)
				off += l
			}
			msg := airbyteMessage{Type: "RECORD", Record: &airbyteRecord{
				Stream: h.Table, Namespace: h.Keyspace, EmittedAt: emittedAt, Data: data}}
			// Like the Go connector, a record whose values do not encode (e.g. a zerofill or
			// otherwise non-JSON number) is dropped and counted, not fatal.
			if err := enc.Encode(msg); err != nil {
				dropped++
				continue
			}
			count++
			// The Go connector flushes its record buffer every 10,000 records.
			if pending++; pending == 10000 {
				out.Flush()
				pending = 0
			}
		}
		passes++
		if time.Since(start).Seconds() >= *minSeconds {
			break
		}
	}
	out.Flush()
	seconds := time.Since(start).Seconds()
	cpu := cpuSeconds() - cpu0
	f.Close()
	fmt.Printf("{\"rows\":%d,\"dropped\":%d,\"bytes\":%d,\"seconds\":%.6f,\"cpu_seconds\":%.6f,\"passes\":%d}\n",
		count, dropped, cw.n, seconds, cpu, passes)
}
