"""rcontainer.run_async(): run() for asyncio: the same result and errors, many at once, the
output bound, timeouts, and cancellation (the kw fixture checks no container is left behind)."""

import asyncio
import time

import pytest

import rcontainer


def test_run_async_captures_like_run(kw):
    async def main():
        r = await rcontainer.run_async(["sh", "-c", "echo out; echo err >&2; exit 3"], capture_output=True, **kw)
        t = await rcontainer.run_async(["tr", "a-z", "A-Z"], input="hello", capture_output=True, text=True, **kw)
        n = await rcontainer.run_async(["true"], **kw)
        return r, t, n

    r, t, n = asyncio.run(main())
    assert (r.returncode, r.stdout, r.stderr, r.oom_killed, r.stdout_truncated) == (3, b"out\n", b"err\n", False, False)
    assert r.args == ["sh", "-c", "echo out; echo err >&2; exit 3"] and r.id.startswith("rc-")
    assert t.stdout == "HELLO"
    assert (n.returncode, n.stdout) == (0, None)


def test_run_async_errors_like_run(kw):
    async def check():
        return await rcontainer.run_async(["sh", "-c", "echo no >&2; exit 4"], check=True, capture_output=True, **kw)

    with pytest.raises(rcontainer.CalledProcessError) as e:
        asyncio.run(check())
    assert (e.value.returncode, e.value.stderr) == (4, b"no\n")
    with pytest.raises(FileNotFoundError):
        asyncio.run(rcontainer.run_async(["/no/such/binary"], **kw))
    with pytest.raises(rcontainer.ConfigError, match="max_output"):
        asyncio.run(rcontainer.run_async(["true"], capture_output=True, max_output=-1, **kw))


def test_run_async_twenty_at_once(kw):
    # Each sleeps 1 s: one after another they would take 20 s.
    async def main():
        return await asyncio.gather(*(
            rcontainer.run_async(["sh", "-c", f"sleep 1; echo {i}; exit {i % 5}"], capture_output=True, text=True, **kw)
            for i in range(20)
        ))

    t0 = time.monotonic()
    results = asyncio.run(main())
    elapsed = time.monotonic() - t0
    assert [(r.returncode, r.stdout) for r in results] == [(i % 5, f"{i}\n") for i in range(20)]
    assert elapsed < 10, f"20 containers of 1 s took {elapsed:.1f} s: they did not run at once"


def test_run_async_timeout_kills_and_keeps_the_partial_output(kw):
    t0 = time.monotonic()
    with pytest.raises(rcontainer.ContainerTimeoutError) as e:
        asyncio.run(rcontainer.run_async(["sh", "-c", "echo partial; exec sleep 30"], capture_output=True, text=True, timeout=0.5, **kw))
    assert time.monotonic() - t0 < 10
    assert isinstance(e.value, TimeoutError)
    assert e.value.stdout == "partial\n" and e.value.stdout_truncated is False
    assert "timed out after 0.5 s and was killed" in str(e.value)
    r = e.value.result
    assert (r.timed_out, r.returncode, r.stdout, r.stdout_truncated) == (True, -9, "partial\n", False), r


def test_run_async_output_is_bounded(kw):
    r = asyncio.run(rcontainer.run_async(["sh", "-c", "head -c 5000 /dev/zero; echo err >&2"], capture_output=True, max_output=1000, **kw))
    assert (r.returncode, len(r.stdout), r.stdout_truncated, r.stderr, r.stderr_truncated) == (0, 1000, True, b"err\n", False)


def test_cancelling_run_async_kills_and_deletes_the_container(kw):
    async def main():
        task = asyncio.create_task(rcontainer.run_async(["sh", "-c", "echo started; exec sleep 30"], capture_output=True, **kw))
        await asyncio.sleep(0.5)
        task.cancel()
        t0 = time.monotonic()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - t0

    assert asyncio.run(main()) < 10
    # The kw fixture asserts that no state dir is left.


def test_create_async_gives_asyncio_streams(kw):
    # As asyncio.create_subprocess_exec: started, PIPE streams as StreamWriter/StreamReader.
    async def main():
        async with await rcontainer.create_async(["sh", "-c", "read line; echo got:$line; echo err >&2; exit 4"],
                                                 stdin=rcontainer.PIPE, stdout=rcontainer.PIPE, stderr=rcontainer.PIPE, **kw) as p:
            assert isinstance(p.stdin, asyncio.StreamWriter) and isinstance(p.stdout, asyncio.StreamReader)
            p.stdin.write(b"hello\n")
            await p.stdin.drain()
            line = await asyncio.wait_for(p.stdout.readline(), 20)
            err = await asyncio.wait_for(p.stderr.read(), 20)
            st = await asyncio.wait_for(p.wait(), 20)
            assert p.returncode == 4
            return line, err, st.code

    assert asyncio.run(main()) == (b"got:hello\n", b"err\n", 4)

    async def communicate():
        async with await rcontainer.create_async(["tr", "a-z", "A-Z"], stdin=rcontainer.PIPE, stdout=rcontainer.PIPE, **kw) as p:
            return await asyncio.wait_for(p.communicate(b"quiet\n"), 20)

    assert asyncio.run(communicate()) == (b"QUIET\n", None)

    async def killed():
        async with await rcontainer.create_async(["sleep", "60"], **kw) as p:
            p.kill()
            return (await p.wait()).signal

    assert asyncio.run(killed()) == 9
