import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import { needs, tempDir } from "../helpers/system";

const ROOT = join(import.meta.dirname, "..", "..");
const INSTALL = join(ROOT, "scripts", "install.sh");
const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
const temp = () => tempDir("install");

const sh = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
  spawnSync("bash", [INSTALL, ...args], { encoding: "utf8", env });

/**
 * Every file and link under dir, relative: a file with its mode and size, a link with its target.
 * A tree to compare.
 */
function tree(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    if (entry.isSymbolicLink()) files[relative(dir, path)] = `-> ${readlinkSync(path)}`;
    else if (entry.isFile())
      files[relative(dir, path)] =
        `${(statSync(path).mode & 0o777).toString(8)} ${readFileSync(path).length}`;
  }
  return files;
}

/** The README and the docs it links to, as installed under `prefix`. */
const docFiles = (prefix: string) => [
  `${prefix}/share/doc/balanced/README.md`,
  ...readdirSync(join(ROOT, "docs")).map((page) => `${prefix}/share/doc/balanced/docs/${page}`),
];

/** The Node.js bundle as installed under `prefix` (no leading slash): its entry point and every chunk. */
const bundleFiles = (prefix: string) => [
  `${prefix}/lib/balanced/balanced.js`,
  ...readdirSync(join(ROOT, "dist", "lib")).map((chunk) => `${prefix}/lib/balanced/lib/${chunk}`),
];

describe("scripts/install.sh", () => {
  it("installs the agent, the unit, the docs and /etc/default/balanced, and the agent runs", () => {
    const root = temp();
    const res = sh(["--root", root]);
    assert.equal(res.status, 0, res.stderr);
    assert.deepEqual(
      Object.keys(tree(root)).sort(),
      [
        "etc/default/balanced",
        "etc/systemd/system/balanced-watch.service",
        "etc/systemd/system/balanced.service",
        "usr/local/bin/balanced",
        ...bundleFiles("usr/local"),
        ...docFiles("usr/local"),
      ].sort(),
    );
    assert.equal(tree(root)["usr/local/bin/balanced"], "-> ../lib/balanced/balanced.js");
    assert.equal(tree(root)["usr/local/lib/balanced/balanced.js"]?.split(" ")[0], "755");
    assert.equal(
      execFileSync(join(root, "usr/local/bin/balanced"), ["--version"], { encoding: "utf8" }),
      `${version}\n`,
    );
    assert.equal(
      readFileSync(join(root, "etc/default/balanced"), "utf8"),
      readFileSync(join(ROOT, "systemd/balanced.default"), "utf8"),
    );
  });

  it("installs units that systemd-analyze verifies", { skip: needs(["systemd-analyze"], "systemd") }, () => {
    const root = temp();
    assert.equal(sh(["--root", root]).status, 0);
    for (const name of ["balanced.service", "balanced-watch.service"]) {
      // systemd-analyze checks that ExecStart's binary exists: point it at the staged one.
      const unit = join(root, "etc/systemd/system", name);
      writeFileSync(
        unit,
        readFileSync(unit, "utf8").replaceAll(
          "/usr/local/bin/balanced",
          join(root, "usr/local/bin/balanced"),
        ),
      );
      const verify = spawnSync("systemd-analyze", ["verify", unit], { encoding: "utf8" });
      assert.equal(verify.status, 0, verify.stderr);
      assert.equal(verify.stderr.trim(), "", name);
    }
  });

  it("is idempotent, and keeps an edited /etc/default/balanced", () => {
    const root = temp();
    assert.equal(sh(["--root", root]).status, 0);
    const before = tree(root);
    writeFileSync(join(root, "etc/default/balanced"), "BALANCED_MIN_HEALTHY=2\n");
    const again = sh(["--root", root]);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /unchanged .*usr\/local\/bin\/balanced\n/);
    assert.match(again.stdout, /unchanged .*usr\/local\/lib\/balanced\n/);
    assert.match(again.stdout, /kept your .*etc\/default\/balanced/);
    assert.equal(readFileSync(join(root, "etc/default/balanced"), "utf8"), "BALANCED_MIN_HEALTHY=2\n");
    const after = tree(root);
    delete before["etc/default/balanced"];
    delete after["etc/default/balanced"];
    assert.deepEqual(after, before);
  });

  it("--prefix puts the agent elsewhere and the unit names it there", () => {
    const root = temp();
    assert.equal(sh(["--root", root, "--prefix", "/opt/balanced"]).status, 0);
    const unit = readFileSync(join(root, "etc/systemd/system/balanced.service"), "utf8");
    assert.match(unit, /^ExecStart=-\/opt\/balanced\/bin\/balanced in --after-shutdown/m);
    assert.match(unit, /^ExecStop=-\/opt\/balanced\/bin\/balanced out --shutdown/m);
    assert.doesNotMatch(unit, /\/usr\/local\//);
  });

  it("a single executable replaces an installed bundle, link and chunks", () => {
    const root = temp();
    assert.equal(sh(["--root", root]).status, 0);
    const exe = join(temp(), "balanced-linux-x64");
    writeFileSync(exe, "#!/bin/sh\necho 9.9.9\n");
    chmodSync(exe, 0o755);
    const res = sh(["--root", root, "--from", exe]);
    assert.equal(res.status, 0, res.stderr);
    const files = tree(root);
    assert.equal(files["usr/local/bin/balanced"], `755 ${readFileSync(exe).length}`);
    assert.deepEqual(
      Object.keys(files).filter((f) => f.startsWith("usr/local/lib/")),
      [],
    );
    assert.equal(execFileSync(join(root, "usr/local/bin/balanced"), { encoding: "utf8" }), "9.9.9\n");
  });

  it("--uninstall removes it all but the settings; --purge those too", () => {
    const root = temp();
    assert.equal(sh(["--root", root]).status, 0);
    const res = sh(["--root", root, "--uninstall"]);
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, /kept .*etc\/default\/balanced \(--purge removes it\)/);
    assert.deepEqual(Object.keys(tree(root)), ["etc/default/balanced"]);
    assert.equal(sh(["--root", root, "--uninstall", "--purge"]).status, 0);
    assert.deepEqual(Object.keys(tree(root)), []);
  });

  it("refuses clearly, changing nothing, when not root and not staging with --root", {
    skip: process.getuid?.() === 0 && needs(["setpriv"], "util-linux"),
  }, () => {
    // As nobody when the tests run as root (CI), as is otherwise.
    const asUser =
      process.getuid?.() === 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : [];
    const res = spawnSync(
      asUser[0] ?? "bash",
      [...asUser.slice(1), ...(asUser.length ? ["bash"] : []), INSTALL],
      {
        encoding: "utf8",
      },
    );
    assert.equal(res.status, 1);
    assert.match(
      res.stderr,
      /^install\.sh: must run as root to install into \/ .*or stage elsewhere with --root DIR\n$/,
    );
    assert.equal(res.stdout, "");
  });

  it("rejects an unknown option with its usage", () => {
    const res = sh(["--prefx", "/opt"]);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /Usage: install\.sh/);
    assert.match(res.stderr, /install\.sh: unknown option: --prefx/);
  });
});

describe("npm run package:deb (scripts/package-deb.sh)", {
  skip: needs(["dpkg-deb", "dpkg"], "dpkg"),
}, () => {
  it("builds a .deb with package.json's version that installs the same files, settings as a conffile", () => {
    const built = execFileSync("bash", [join(ROOT, "scripts/package-deb.sh"), "--arch", "all"], {
      encoding: "utf8",
    });
    assert.match(built, new RegExp(`built dist/balanced_${version.replace(/\./g, "\\.")}_all\\.deb`));
    const deb = join(ROOT, "dist", `balanced_${version}_all.deb`);
    const field = (name: string) => execFileSync("dpkg-deb", ["-f", deb, name], { encoding: "utf8" }).trim();
    assert.equal(field("Package"), "balanced");
    assert.equal(field("Version"), version);
    assert.equal(field("Architecture"), "all");
    assert.equal(field("Depends"), "nodejs (>= 20)");
    const control = temp();
    execFileSync("dpkg-deb", ["-e", deb, control]);
    assert.equal(readFileSync(join(control, "conffiles"), "utf8"), "/etc/default/balanced\n");
    // An upgrade never restarts the drain unit (its stop would take the host out); the watch loop may.
    assert.doesNotMatch(
      readFileSync(join(control, "postinst"), "utf8"),
      /systemctl [a-z-]*restart[^\n]* balanced\.service/,
    );

    const root = temp();
    execFileSync("dpkg", ["-x", deb, root]);
    assert.deepEqual(
      Object.keys(tree(root)).sort(),
      [
        "etc/default/balanced",
        "lib/systemd/system/balanced-watch.service",
        "lib/systemd/system/balanced.service",
        "usr/bin/balanced",
        ...bundleFiles("usr"),
        ...docFiles("usr"),
      ].sort(),
    );
    const unit = readFileSync(join(root, "lib/systemd/system/balanced.service"), "utf8");
    assert.match(unit, /^ExecStop=-\/usr\/bin\/balanced out --shutdown/m);
    assert.equal(
      execFileSync(join(root, "usr/bin/balanced"), ["--version"], { encoding: "utf8" }),
      `${version}\n`,
    );
  });
});
