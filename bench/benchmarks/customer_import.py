"""The customer import at growing sizes, against the bare COPY of the same customers.

For each size (full: 25,000 and 100,000 rows; small: 5,000 and 20,000), a CSV of new
customers (phones written in several ways, e-mails, tags, time zones as names and offsets)
is uploaded to POST /api/v1/customers/import/ and imported by a real worker (queue
`default`, one pool process); then the same file is uploaded again (every row unchanged).
Figures:
- upload: the request's time (stored, checked as a whole, counted);
- import: the worker's time, from the job's creation to `done` (`finished_at - created_at`),
  and rows/s; request to `done` as a client polling sees it;
- memory: the pool process's RSS while idle, and its peak (VmHWM) after each import, read
  from /proc (the same process throughout): constant memory means the peak does not grow
  with the file;
- the bare thing: `psql \\copy` of the same customers, already normalised, into a table like
  customers_customer (its unique indexes included).
Writes bench/results/customer_import.md.

Target (issue 17): 100,000 rows imported in under 30 s, in constant memory (peak within
50 MiB of the idle worker's, the same at both sizes).
"""

from __future__ import annotations

import time

from tables import children, markdown_table, process_memory_kib, write_markdown

ZONES = ["Europe/Moscow", "GMT+3", "Asia/Yekaterinburg", "UTC+07:00", ""]
TAGS = ["vip", "new", "b2b", "", "promo"]
CODES = ["912", "916", "926", "903", "965"]
NULL = "\\N"  # COPY's text format


def _phone(i: int) -> tuple[str, str]:
    """(as written in the file, as stored): distinct valid numbers, several spellings."""
    code = CODES[i % len(CODES)]
    subscriber = f"{i:07d}"
    stored = f"7{code}{subscriber}"
    written = [
        stored,
        f"+7 ({code}) {subscriber[:3]}-{subscriber[3:5]}-{subscriber[5:]}",
        f"8{code}{subscriber}",
    ][i % 3]
    return written, stored


def _files(ctx, size: int) -> tuple:
    """The CSV to upload and the normalised TSV for the bare COPY."""
    csv_path = ctx.work_dir / f"customers-{size}.csv"
    tsv_path = ctx.work_dir / f"customers-{size}.tsv"
    zone_stored = {
        "Europe/Moscow": "Europe/Moscow",
        "GMT+3": "UTC+03:00",
        "Asia/Yekaterinburg": "Asia/Yekaterinburg",
        "UTC+07:00": "UTC+07:00",
        "": "Europe/Moscow",
    }
    with csv_path.open("w") as csv_file, tsv_path.open("w") as tsv_file:
        csv_file.write("phone_number,email,operator_code,tag,timezone\n")
        for i in range(size):
            written, stored = _phone(i)
            email = f"customer{i}@example.com" if i % 4 else ""
            zone, tag = ZONES[i % len(ZONES)], TAGS[i % len(TAGS)]
            csv_file.write(f"{written},{email},,{tag},{zone}\n")
            tsv_file.write(f"{email or NULL}\t{stored}\t{stored[1:4]}\t{tag}\t{zone_stored[zone]}\tnow\tnow\n")
    return csv_path, tsv_path


def _import(ctx, api, path) -> dict:
    """One upload through the API, polled until done; returns the job and its timings."""
    from tests.stack import wait_until

    started = time.perf_counter()
    with path.open("rb") as handle:
        accepted = api.post(
            f"{ctx.stack.web_url}/api/v1/customers/import/", files={"file": (path.name, handle)}, timeout=600
        )
    accepted.raise_for_status()
    upload_seconds = time.perf_counter() - started
    location = f"{ctx.stack.web_url}{accepted.headers['Location']}"

    def done():
        body = api.get(location, timeout=30).json()
        if body["status"] == "failed":
            raise RuntimeError(f"the import failed: {body['error']}")
        return body if body["status"] == "done" else None

    job = wait_until(done, timeout=1800, interval=0.05, what="the import")
    latency = time.perf_counter() - started
    worker = ctx.psql(
        "SELECT extract(epoch FROM finished_at - created_at) FROM customers_customerimport WHERE id = %s",
        [job["id"]],
    )[0][0]
    return {"job": job, "upload_seconds": upload_seconds, "request_to_done_seconds": latency, "import_seconds": worker}


def run(ctx) -> dict:
    import requests

    sizes = ctx.sized(small=[5_000, 20_000], full=[25_000, 100_000])
    stack = ctx.stack
    api = requests.Session()
    api.headers["Authorization"] = f"Token {ctx.token('marketing')}"
    ctx.psql("CREATE TABLE bench_customer_copy (LIKE customers_customer INCLUDING ALL)")
    results = {}
    worker_pid, pool_pid, idle = ctx.start_one_pool_worker("import-worker", "default")
    try:
        for size in sizes:
            csv_path, tsv_path = _files(ctx, size)
            ctx.psql("TRUNCATE bench_customer_copy")
            columns = ["email", "phone_number", "operator_code", "tag", "timezone", "created_at", "updated_at"]
            bare = ctx.copy_from_file("bench_customer_copy", columns, tsv_path)
            first = _import(ctx, api, csv_path)
            assert (first["job"]["created"], first["job"]["failed"]) == (size, 0), first["job"]
            peak = process_memory_kib(pool_pid)
            again = _import(ctx, api, csv_path)
            assert (again["job"]["unchanged"], again["job"]["created"], again["job"]["updated"]) == (size, 0, 0)
            results[size] = {
                "bare_copy_seconds": bare,
                "first": first,
                "again": again,
                "pool_process_kib_after_first": peak,
                "pool_process_kib_after_again": process_memory_kib(pool_pid),
                "file_bytes": csv_path.stat().st_size,
            }
            print(
                f"customer_import: {size:,} rows: import {first['import_seconds']:.1f} s "
                f"({size / first['import_seconds']:,.0f} rows/s), again {again['import_seconds']:.1f} s, "
                f"bare COPY {bare:.2f} s, peak RSS {peak['VmHWM'] / 1024:.1f} MiB",
                flush=True,
            )
            ctx.psql("DELETE FROM customers_customer")
        assert children(worker_pid) == [pool_pid], "the pool process was replaced during the run"
    finally:
        stack.stop("import-worker")

    idle_mib = idle["VmRSS"] / 1024
    rows, summary = [], {}
    for size, result in results.items():
        first, again = result["first"], result["again"]
        peak_mib = result["pool_process_kib_after_again"]["VmHWM"] / 1024
        rows.append(
            [
                f"{size:,}",
                f"{result['file_bytes'] / 2**20:.1f}",
                round(first["upload_seconds"], 2),
                round(first["import_seconds"], 1),
                f"{size / first['import_seconds']:,.0f}",
                round(first["request_to_done_seconds"], 1),
                round(again["import_seconds"], 1),
                round(result["bare_copy_seconds"], 2),
                round(peak_mib, 1),
                round(peak_mib - idle_mib, 1),
            ]
        )
        summary[f"{size:,} rows: import s / rows/s (target < 30 s at 100,000)"] = (
            f"{round(first['import_seconds'], 1)} / {size / first['import_seconds']:,.0f}"
        )
        summary[f"{size:,} rows: again (unchanged) s / bare COPY s"] = (
            f"{round(again['import_seconds'], 1)} / {round(result['bare_copy_seconds'], 2)}"
        )
        summary[f"{size:,} rows: worker peak RSS MiB (idle {round(idle_mib, 1)})"] = round(peak_mib, 1)
    table = write_markdown(
        "customer_import",
        "The customer import as the file grows",
        [
            f"Command: `BENCH_SCALE={ctx.scale} make bench BENCH=customer_import`. New customers, then the same "
            "file again (every row unchanged); one worker pool process throughout (its RSS idle before the first "
            f"import: {round(idle_mib, 1)} MiB); the peak is VmHWM after both imports of the size. The bare "
            "thing: `psql \\copy` of the same customers, already normalised, into a copy of customers_customer.",
            markdown_table(
                [
                    "rows",
                    "file MiB",
                    "upload s",
                    "import s",
                    "rows/s",
                    "request → done s",
                    "again s",
                    "bare COPY s",
                    "worker peak RSS MiB",
                    "peak − idle MiB",
                ],
                rows,
            ),
        ],
    )
    return {"idle_kib": idle, "results": results, "tables": [table], "summary": summary}
