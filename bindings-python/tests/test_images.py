"""Images: run(image=...) on a copy-on-write root with the image's config, and the store
(pull, import_image, images, remove_image, prune).

The image is built offline and reproducibly by tests/images/make-image.sh (busybox from Debian's
busybox-static, an OCI layout) into a temporary directory; each test session has a store of its
own. The pull tests start Debian's docker-registry on 127.0.0.1 (tests/images/registry.sh) and
fill it with skopeo (tests/images/push.sh); they skip when docker-registry is not installed.
Every container, store and registry process a test makes is removed, also when it fails.
"""

import asyncio
import errno
import gc
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import warnings

import pytest

import rcontainer
from rcontainer import Container

IMAGES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "images")
BUSYBOX = "busybox:latest"  # Cmd ["sh"], WorkingDir /, PATH
EXTRA = "busybox:busybox-extra"  # Entrypoint ["/bin/sh", "-c"], Cmd echo..., FOO=bar, /extra, app, SIGINT
MULTI = "busybox:multi"  # an index of two platforms: cat /platform.txt
STOP_SIGNAL_ANNOTATION = "org.opencontainers.image.stopSignal"

# busybox-extra exposes 80/tcp: every run of it warns (test_exposed_ports_are_noted_with_a_warning).
pytestmark = pytest.mark.filterwarnings("ignore:image .* exposes 80/tcp:RuntimeWarning")


def tool(name):
    return os.path.join(IMAGES, name)


def temp_dir(prefix):
    """A directory for a store or a layout: under /var/tmp (a disk, where overlayfs's upper and
    work dirs can be), its path free of the ',' and ':' overlayfs options cannot hold."""
    d = tempfile.mkdtemp(prefix=prefix, dir="/var/tmp")
    os.chmod(d, 0o711)
    return d


@pytest.fixture(scope="session")
def layout(state_root):  # state_root: skips unless root
    """make-image.sh's OCI layout (busybox, busybox-extra, multi) in a directory named busybox,
    so importing it names the images busybox:latest, busybox:busybox-extra, busybox:multi; and
    the digests it printed ({"latest": "sha256:...", ..., "platform": "linux/amd64"})."""
    top = temp_dir("rcontainer-pytest-layout-")
    try:
        out = os.path.join(top, "busybox")
        p = subprocess.run([tool("make-image.sh"), out, "--extra", "--no-check"], capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            pytest.fail(f"tests/images/make-image.sh failed ({p.returncode}): {p.stderr}")
        digests = dict(line.split(" ", 1) for line in p.stdout.splitlines() if " " in line)
        yield out, digests
    finally:
        shutil.rmtree(top, ignore_errors=True)


def new_store():
    return temp_dir("rcontainer-pytest-store-")


def remove_store(store):
    gc.collect()
    shutil.rmtree(store, ignore_errors=True)


@pytest.fixture(scope="session")
def store(layout):
    """The session's store, with the layout's images imported."""
    s = new_store()
    try:
        names = sorted(i.name for i in rcontainer.import_image(layout[0], store=s))
        assert names == [EXTRA, BUSYBOX, MULTI]
        yield s
    finally:
        remove_store(s)


@pytest.fixture
def ikw(kw, store):
    """create() keywords of a container from an image: the private state root and store; after
    the test, no container root may be left in the store."""
    yield dict(kw, store=store)
    gc.collect()
    left = os.listdir(os.path.join(store, "containers"))
    assert left == [], f"container roots left in the store: {left}"


def layer_dir(store, image_name, index=0):
    """The unpacked layer `index` (bottom first) of an image of the store, on the host."""
    [image] = [i for i in rcontainer.images(store) if i.name == image_name]
    with open(os.path.join(store, "blobs", "sha256", image.id.split(":")[1])) as f:
        import json

        diff_id = json.load(f)["rootfs"]["diff_ids"][index]
    return os.path.join(store, "layers", diff_id.split(":")[1])


def run_out(args, **kw):
    r = rcontainer.run(args, capture_output=True, text=True, **kw)
    assert r.returncode == 0, (r.stdout, r.stderr)
    return r.stdout


# ---------------------------------------------------------------------------------------------
# Running an image


def test_run_an_image_pid_1_on_its_own_root(ikw):
    r = rcontainer.run(["sh", "-c", "echo $$; cat /etc/passwd | head -n 1; ls /bin/busybox; echo $PATH"], image=BUSYBOX,
                       capture_output=True, text=True, **ikw)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["1", "root:x:0:0:root:/root:/bin/sh", "/bin/busybox",
                                     "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    assert r.args == ["sh", "-c", "echo $$; cat /etc/passwd | head -n 1; ls /bin/busybox; echo $PATH"]
    # Not the host's root: busybox's /etc/passwd, no /usr/lib of the host.
    assert run_out(["sh", "-c", "test -e /usr/lib/os-release || echo no-host-usr"], image=BUSYBOX, **ikw) == "no-host-usr\n"


def test_the_image_config_gives_the_defaults(ikw):
    # No args: Entrypoint + Cmd; User app; WorkingDir /extra; the layers (layer 2's whiteout of /etc/group).
    r = rcontainer.run(image=EXTRA, capture_output=True, text=True, **ikw)
    assert (r.returncode, r.stdout, r.args) == (0, "from-extra\nhello from layer 2\n", ["/bin/sh", "-c", "echo from-extra; cat /extra/hello.txt"])
    # args replace Cmd; the Entrypoint (sh -c) stays.
    script = 'echo "$FOO"; pwd; id -u; id -un; test -e /etc/group || echo no-group'
    assert run_out([script], image=EXTRA, **ikw) == "bar\n/extra\n1000\napp\nno-group\n"


def test_options_override_the_image_config(ikw):
    script = 'echo "$FOO $NEW"; pwd; id -u'
    out = run_out([script], image=EXTRA, env={"FOO": "mine", "NEW": "1"}, cwd="/tmp", user=0, **ikw)
    assert out == "mine 1\n/tmp\n0\n"
    assert run_out(["id -un"], image=EXTRA, user="nobody", **ikw) == "nobody\n"  # a name: the image's /etc/passwd
    # entrypoint replaces the image's and drops its Cmd; "" clears it; a list is entrypoint + first args.
    assert run_out(None, image=EXTRA, entrypoint="pwd", **ikw) == "/extra\n"
    assert run_out(["hello", "there"], image=EXTRA, entrypoint="/bin/echo", **ikw) == "hello there\n"
    assert run_out(["cat", "/extra/hello.txt"], image=EXTRA, entrypoint="", **ikw) == "hello from layer 2\n"
    r = rcontainer.run(["b"], image=EXTRA, entrypoint=["echo", "a"], capture_output=True, text=True, **ikw)
    assert (r.stdout, r.args) == ("a b\n", ["echo", "a", "b"])
    # The Cmd of an image without an Entrypoint: busybox's sh, reading stdin.
    assert rcontainer.run(image=BUSYBOX, input="echo from-stdin", capture_output=True, **ikw).stdout == b"from-stdin\n"
    # Other options apply as without an image.
    assert run_out(["hostname"], image=BUSYBOX, hostname="imagebox", **ikw) == "imagebox\n"


def test_copy_on_write_isolation_and_the_root_goes_with_the_container(ikw, store):
    layer = layer_dir(store, BUSYBOX)
    with open(os.path.join(layer, "etc", "passwd"), "rb") as f:
        passwd_before = f.read()
    write = "echo changed >> /etc/passwd && rm /bin/su-test && echo new > /root/new && echo ready && read x || true"
    with Container.create(["sh", "-c", write], image=BUSYBOX, stdin=rcontainer.PIPE, stdout=rcontainer.PIPE, **ikw) as a:
        a.start()
        assert a.stdout.readline() == b"ready\n"
        upper = os.path.join(store, "containers", a.id, "upper")
        assert os.path.isfile(os.path.join(upper, "etc", "passwd")) and os.path.isfile(os.path.join(upper, "root", "new"))
        # Another container of the same image sees the layers as they are.
        look = "tail -n 1 /etc/passwd; ls /bin/su-test; ls /root"
        assert run_out(["sh", "-c", look], image=BUSYBOX, **ikw) == "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n/bin/su-test\n"
        a.stdin.close()
        assert a.wait().code == 0
        a_dir = os.path.join(store, "containers", a.id)
        assert os.path.isdir(a_dir)  # until delete()
    assert not os.path.exists(a_dir)
    # The host's layer is untouched.
    with open(os.path.join(layer, "etc", "passwd"), "rb") as f:
        assert f.read() == passwd_before
    assert os.path.isfile(os.path.join(layer, "bin", "su-test")) and not os.path.exists(os.path.join(layer, "root", "new"))
    # Every container starts from the image again.
    assert run_out(["sh", "-c", "grep -c changed /etc/passwd || true"], image=BUSYBOX, **ikw) == "0\n"


def test_read_only_is_the_layers_alone(ikw, store):
    with Container.create(["sh", "-c", "touch /x 2>&1; touch /tmp/y 2>&1; grep ' / ' /proc/mounts | cut -d' ' -f4"], image=BUSYBOX,
                          read_only=True, stdout=rcontainer.PIPE, **ikw) as c:
        d = os.path.join(store, "containers", c.id)
        assert os.path.isdir(d) and not os.path.exists(os.path.join(d, "upper"))
        c.start()
        out, _ = c.communicate(timeout=30)
    lines = out.decode().splitlines()
    assert "Read-only file system" in lines[0] and "Read-only file system" in lines[1], lines
    assert lines[2].split(",")[0] == "ro", lines
    assert not os.path.exists(d)
    # A tmpfs where the program writes.
    tmp = {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}
    assert run_out(["sh", "-c", "echo hi > /tmp/f && cat /tmp/f"], image=BUSYBOX, read_only=True, mounts=[tmp], **ikw) == "hi\n"


def test_sandbox_over_an_image(ikw):
    # The preset: nobody (the image names no user), no capabilities, a read-only root, a tmpfs /tmp.
    script = "id -u; grep CapEff /proc/self/status | cut -f2; touch /x 2>&1; echo hi > /tmp/f && cat /tmp/f"
    lines = run_out(["sh", "-c", script], image=BUSYBOX, sandbox=True, **ikw).splitlines()
    assert lines[:2] == ["65534", "0000000000000000"] and "Read-only file system" in lines[2] and lines[3] == "hi", lines


def test_the_image_stop_signal_is_what_kill_sends(ikw):
    trap = "trap 'echo got-INT; exit 7' INT; echo ready; while :; do sleep 0.1; done"
    with Container.create([trap], image=EXTRA, stdout=rcontainer.PIPE, **ikw) as c:
        assert c.stop_signal == signal.SIGINT
        assert c.state.annotations.get(STOP_SIGNAL_ANNOTATION) == "SIGINT"
        c.start()
        assert c.stdout.readline() == b"ready\n"
        c.kill()  # the image's StopSignal
        assert c.wait(timeout=30).code == 7
        assert c.stdout.read() == b"got-INT\n"
    with Container.create(["true"], image=BUSYBOX, **ikw) as c:
        assert c.stop_signal == signal.SIGTERM and STOP_SIGNAL_ANNOTATION not in c.state.annotations


def test_exposed_ports_are_noted_with_a_warning(ikw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rcontainer.run(["true"], image=EXTRA, **ikw)
    [w] = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert "80/tcp" in str(w.message) and w.filename == __file__, (w.message, w.filename)


def test_exec_and_async_with_an_image(ikw):
    with Container.create(["sleep 60"], image=EXTRA, **ikw) as c:
        c.start()
        p = c.exec(["sh", "-c", "echo $FOO; pwd; id -u"], stdout=rcontainer.PIPE)
        assert p.communicate(timeout=30)[0] == b"bar\n/extra\n1000\n"

    async def main():
        r = await rcontainer.run_async(["echo $$"], image=EXTRA, capture_output=True, **ikw)
        async with await rcontainer.create_async(image=EXTRA, stdout=rcontainer.PIPE, **ikw) as a:
            out, _ = await a.communicate()
        return r, out

    r, out = asyncio.run(main())
    assert (r.returncode, r.stdout) == (0, b"1\n") and out == b"from-extra\nhello from layer 2\n"


def test_many_containers_of_one_image_at_once(ikw):
    async def one(n):
        return await rcontainer.run_async([f"echo {n} > /tmp/n; cat /tmp/n"], image=EXTRA, capture_output=True, **ikw)

    async def main():
        return await asyncio.gather(*(one(n) for n in range(10)))

    assert [r.stdout for r in asyncio.run(main())] == [f"{n}\n".encode() for n in range(10)]


def test_the_readmes_images_example_runs(ikw, store):
    """The README's Images example, as written, with the session's store as the default one
    ($RCONTAINER_STORE), where busybox:latest is."""
    import re
    import sys

    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md")).read()
    [block] = re.findall(r"^## Images\n.*?```python\n(.*?)```", readme, re.S | re.M)
    p = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True, timeout=120, env=dict(os.environ, RCONTAINER_STORE=store))
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert lines[:3] == ["['1', 'hi']", "1", "1"], p.stdout
    short_id, size = lines[3].split()
    assert len(short_id) == 12 and int(size) > 500_000


# ---------------------------------------------------------------------------------------------
# Errors


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    return port


def test_image_errors(ikw, store):
    # Not in the store, and no registry answers: the error names the image and the store.
    ref = f"127.0.0.1:{closed_port()}/nothing:here"
    with pytest.raises(rcontainer.ContainerOSError) as e:
        rcontainer.run(["true"], image=ref, plain_http=True, **ikw)
    assert isinstance(e.value, ConnectionRefusedError) and e.value.errno == errno.ECONNREFUSED
    assert ref in str(e.value) and store in str(e.value) and "not in the store" in str(e.value), str(e.value)
    # image and rootfs: one or the other.
    with pytest.raises(rcontainer.ConfigError, match="rootfs") as e:
        rcontainer.run(["true"], image=BUSYBOX, rootfs="/", **ikw)
    assert isinstance(e.value, ValueError) and "busybox" in str(e.value)
    # Bad references.
    for bad in ("Not A Reference", "busybox@sha256:zz"):
        with pytest.raises(rcontainer.ConfigError) as e:
            rcontainer.run(["true"], image=bad, **ikw)
        assert bad in str(e.value)
    # No command: the image's Entrypoint cleared, its Cmd dropped, no args.
    with pytest.raises(rcontainer.ConfigError, match="no command"):
        rcontainer.run(image=BUSYBOX, entrypoint="", **ikw)
    # Errors once the root is prepared leave nothing of it (the ikw fixture checks the store).
    with pytest.raises(rcontainer.ConfigError, match="nosuchuser"):
        rcontainer.run(["true"], image=BUSYBOX, user="nosuchuser", **ikw)  # not in the image's /etc/passwd
    with pytest.raises(rcontainer.ConfigError, match="cwd"):
        rcontainer.run(["true"], image=BUSYBOX, cwd="relative", **ikw)
    # A missing command in the image: as without an image.
    with pytest.raises(FileNotFoundError):
        rcontainer.run(["/no/such/binary"], image=BUSYBOX, **ikw)
    # Image options without an image.
    for opt in ({"entrypoint": "sh"}, {"store": store}, {"plain_http": True}, {"credentials": ("u", "p")}):
        with pytest.raises(rcontainer.ConfigError, match=f"{next(iter(opt))} goes with image="):
            rcontainer.run(["true"], root=ikw["root"], **opt)
    # Credentials of the wrong shape: the message never shows them.
    for creds in ("user:secret", ("user",), ("user", "secret", "x"), ("", "secret")):
        with pytest.raises(rcontainer.ConfigError, match="credentials") as e:
            rcontainer.run(["true"], image=BUSYBOX, credentials=creds, **ikw)
        assert "secret" not in str(e.value)
    # An id in use: nothing of the other container's root is touched.
    with Container.create(["true"], image=BUSYBOX, name="py-image-taken", **ikw) as c:
        with pytest.raises(rcontainer.ContainerExistsError):
            Container.create(["true"], image=BUSYBOX, name="py-image-taken", **ikw)
        assert os.path.isdir(os.path.join(store, "containers", c.id, "upper"))
        c.start()
        assert c.wait(timeout=30).code == 0


def test_read_only_without_an_image(kw, store):
    # A root directory given with rootfs= (a copy of the image's layer), read-only.
    rootfs = temp_dir("rcontainer-pytest-rootfs-")
    try:
        shutil.copytree(layer_dir(store, BUSYBOX), rootfs, symlinks=True, dirs_exist_ok=True)
        touch = ["sh", "-c", "touch /x 2>&1 && echo wrote; true"]
        assert "Read-only file system" in run_out(touch, rootfs=rootfs, read_only=True, **kw)
        assert run_out(touch, rootfs=rootfs, **kw) == "wrote\n" and os.path.isfile(os.path.join(rootfs, "x"))
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)


def test_stop_signal_names():
    """What an image's StopSignal may say (docker's forms), without root."""
    n = rcontainer._signal_number
    assert [n(x) for x in ("SIGINT", "int", "QUIT", "15", "SIGRTMIN", "SIGRTMIN+3", "RTMAX-1")] == [
        signal.SIGINT, signal.SIGINT, signal.SIGQUIT, 15, signal.SIGRTMIN, signal.SIGRTMIN + 3, signal.SIGRTMAX - 1]
    assert [n(x) for x in ("SIGNOPE", "0", "999", "SIGRTMAX+1", "", "-2")] == [None] * 6


# ---------------------------------------------------------------------------------------------
# The store


def test_import_images_and_remove_image(layout, kw):
    s = new_store()
    try:
        assert rcontainer.images(s) == []
        imported = rcontainer.import_image(layout[0], store=s)
        by_name = {i.name: i for i in imported}
        assert sorted(by_name) == [EXTRA, BUSYBOX, MULTI] and rcontainer.images(store=s) == sorted(imported, key=lambda i: i.name)
        bb = by_name[BUSYBOX]
        assert (bb.repository, bb.tag, bb.digest, bb.created) == ("busybox", "latest", layout[1]["latest"], "2024-01-01T00:00:00Z")
        assert bb.id.startswith("sha256:") and len(bb.short_id) == 12 and bb.id[7:].startswith(bb.short_id) and bb.size > 500_000
        with pytest.raises(AttributeError):
            bb.tag = "x"  # frozen
        layers = set(os.listdir(os.path.join(s, "layers")))
        assert len(layers) == 3  # layer 1 (shared by all three), layer 2, this platform's layer of multi
        # A running container of an image keeps its layers through remove_image and prune.
        with Container.create(["read x; cat /extra/hello.txt"], image=EXTRA, store=s, stdin=rcontainer.PIPE,
                              stdout=rcontainer.PIPE, **kw) as c:
            c.start()
            removed = rcontainer.remove_image(EXTRA, store=s, root=kw["root"])
            assert removed == by_name[EXTRA]
            assert sorted(i.name for i in rcontainer.images(s)) == [BUSYBOX, MULTI]
            assert set(os.listdir(os.path.join(s, "layers"))) == layers
            out, _ = c.communicate(b"go\n", timeout=30)
            assert out == b"hello from layer 2\n"
        # Its blobs went with the name; its layer 2 goes once no container uses it.
        report = rcontainer.prune(store=s, root=kw["root"])
        assert (report.blobs, report.layers, report.containers) == (0, 1, 0) and report.bytes > 0, report
        assert len(os.listdir(os.path.join(s, "layers"))) == 2
        # By image id; the shared layer stays for busybox.
        rcontainer.remove_image(by_name[MULTI].short_id, store=s, root=kw["root"])
        assert [i.name for i in rcontainer.images(s)] == [BUSYBOX] and len(os.listdir(os.path.join(s, "layers"))) == 1
        with pytest.raises(rcontainer.NotFoundError, match="busybox:no-such"):
            rcontainer.remove_image("busybox:no-such", store=s)
        rcontainer.remove_image(BUSYBOX, store=s, root=kw["root"])
        assert rcontainer.images(s) == [] and os.listdir(os.path.join(s, "layers")) == []
        assert os.listdir(os.path.join(s, "blobs", "sha256")) == []
        # Running an image the store no longer has (and no registry has): NotFound or unreachable, named.
        with pytest.raises(rcontainer.ContainerError, match="busybox"):
            rcontainer.run(["true"], image=f"127.0.0.1:{closed_port()}/busybox", store=s, plain_http=True, **kw)
    finally:
        remove_store(s)


def test_import_errors_and_the_store_from_the_environment(layout, tmp_path, monkeypatch, state_root):
    with pytest.raises(FileNotFoundError, match="no-such-layout"):
        rcontainer.import_image(tmp_path / "no-such-layout", store=tmp_path / "s")
    (tmp_path / "junk.tar").write_bytes(b"\x1f\x8b" + b"\0" * 100)
    with pytest.raises(rcontainer.ConfigError, match="compressed"):
        rcontainer.import_image(tmp_path / "junk.tar", store=tmp_path / "s")
    with pytest.raises(rcontainer.ConfigError, match="one image|name"):
        rcontainer.import_image(layout[0], "other:tag", store=tmp_path / "s")  # three images, one name
    with pytest.raises(rcontainer.ConfigError, match="store path"):
        rcontainer.images(store=str(tmp_path / "a,b"))
    # store=None: $RCONTAINER_STORE (the command's rule), else DEFAULT_STORE.
    assert rcontainer.DEFAULT_STORE == "/var/lib/rcontainer"
    env_store = tmp_path / "env-store"
    monkeypatch.setenv("RCONTAINER_STORE", str(env_store))
    assert rcontainer.images() == [] and os.path.isdir(env_store / "layers")


# ---------------------------------------------------------------------------------------------
# Pull from a registry on 127.0.0.1 (Debian's docker-registry)


class Registry:
    def __init__(self, auth=()):
        self.dir = temp_dir("rcontainer-pytest-registry-")
        p = subprocess.run([tool("registry.sh"), "start", self.dir, *auth], capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            self.stop()
            pytest.fail(f"tests/images/registry.sh start failed: {p.stderr}")
        self.address = p.stdout.strip().splitlines()[-1]

    def push(self, layout_dir, dest, ref="latest", creds=None):
        env = dict(os.environ, PUSH_CREDS=creds) if creds else None
        p = subprocess.run([tool("push.sh"), layout_dir, f"{self.address}/{dest}", ref], capture_output=True, text=True, timeout=300, env=env)
        assert p.returncode == 0, f"tests/images/push.sh failed: {p.stderr}"

    def stop(self):
        """registry.sh stop kills the processes it started, by the pids it wrote (never by name)."""
        try:
            subprocess.run([tool("registry.sh"), "stop", self.dir], capture_output=True, timeout=60)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def start_registry(auth=()):
    if shutil.which("docker-registry") is None:
        pytest.skip("docker-registry is not installed (apt-get install docker-registry; tests/images/registry.sh installs it)")
    return Registry(auth)


@pytest.fixture(scope="session")
def registry(layout):
    r = start_registry()
    try:
        r.push(layout[0], "tools/busybox:1.36")
        r.push(layout[0], "tools/extra:v1", "busybox-extra")
        r.push(layout[0], "tools/multi:v1", "multi")
        yield r
    finally:
        r.stop()


def test_pull_and_run(registry, layout, kw):
    s = new_store()
    try:
        ref = f"{registry.address}/tools/busybox:1.36"
        img = rcontainer.pull(ref, store=s, plain_http=True)
        assert (img.name, img.repository, img.tag, img.digest) == (ref, f"{registry.address}/tools/busybox", "1.36", layout[1]["latest"])
        assert rcontainer.images(s) == [img]
        assert run_out(["sh", "-c", "echo $$"], image=ref, store=s, **kw) == "1\n"
        # A manifest list: this machine's image.
        multi = f"{registry.address}/tools/multi:v1"
        rcontainer.pull(multi, store=s, plain_http=True)
        assert run_out(None, image=multi, store=s, **kw) == layout[1]["platform"] + "\n"
        # run() pulls what the store lacks (here also by digest), as `rcontainer run IMAGE` does.
        extra = f"{registry.address}/tools/extra@{layout[1]['busybox-extra']}"
        assert run_out(["echo $FOO; id -un"], image=extra, store=s, plain_http=True, **kw) == "bar\napp\n"
        [pulled] = [i for i in rcontainer.images(s) if i.digest == layout[1]["busybox-extra"]]
        assert pulled.tag is None and pulled.name == extra
        # Pulled again: the layers are in the store already.
        assert rcontainer.pull(ref, store=s, plain_http=True) == img
        assert len(os.listdir(os.path.join(s, "containers"))) == 0
    finally:
        remove_store(s)


def test_pull_errors(registry, tmp_path):
    s = str(tmp_path / "store")
    missing = f"{registry.address}/tools/nonexistent:latest"
    with pytest.raises(rcontainer.NotFoundError, match="tools/nonexistent") as e:
        rcontainer.pull(missing, store=s, plain_http=True)
    assert isinstance(e.value, LookupError)
    with pytest.raises(rcontainer.NotFoundError, match="no-such-tag"):
        rcontainer.pull(f"{registry.address}/tools/busybox:no-such-tag", store=s, plain_http=True)
    with pytest.raises(rcontainer.ConfigError, match="Bad Reference"):
        rcontainer.pull("Bad Reference", store=s)
    # https to a plain-http registry: a failure of the connection, not a missing image.
    with pytest.raises(rcontainer.ContainerOSError, match="tools/busybox"):
        rcontainer.pull(f"{registry.address}/tools/busybox:1.36", store=s)
    assert rcontainer.images(s) == []


def test_pull_with_credentials(layout, tmp_path):
    r = start_registry(("--basic", "alice:s3cret"))
    try:
        r.push(layout[0], "private/busybox:1", creds="alice:s3cret")
        ref = f"{r.address}/private/busybox:1"
        s = str(tmp_path / "store")
        for creds in (None, ("alice", "wrong")):
            with pytest.raises(PermissionError, match="private/busybox") as e:
                rcontainer.pull(ref, store=s, plain_http=True, credentials=creds)
            assert isinstance(e.value, rcontainer.ContainerOSError) and "wrong" not in str(e.value)
        assert rcontainer.pull(ref, store=s, plain_http=True, credentials=("alice", "s3cret")).digest == layout[1]["latest"]
    finally:
        r.stop()
