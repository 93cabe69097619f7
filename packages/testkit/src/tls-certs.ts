import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";

/** PEM files of a throwaway CA, a server certificate for 127.0.0.1/localhost and a client certificate. */
export interface TestCertificates extends AsyncDisposable {
  readonly dir: string;
  readonly ca: Buffer;
  readonly caPath: string;
  readonly serverCert: Buffer;
  readonly serverCertPath: string;
  readonly serverKey: Buffer;
  readonly serverKeyPath: string;
  readonly clientCert: Buffer;
  readonly clientKey: Buffer;
}

/** Creates the certificates with openssl in a temp dir (removed on dispose). */
export async function createTestCertificates(): Promise<TestCertificates> {
  const dir = await mkdtemp(path.join(tmpdir(), "reins-tls-"));
  const p = (name: string) => path.join(dir, name);
  const ssl = (...args: string[]) => execa("openssl", args, { cwd: dir });
  try {
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    await ssl("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=reins test CA");
    await writeFile(p("server.ext"), "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n");
    await writeFile(p("client.ext"), "extendedKeyUsage=clientAuth\n");
    for (const [name, subject] of [
      ["server", "/CN=localhost"],
      ["client", "/CN=reins test client"],
    ] as const) {
      await ssl("req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject);
      await ssl(
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        `${name}.ext`,
        "-out",
        `${name}.pem`,
      );
    }
    return {
      dir,
      ca: await readFile(p("ca.pem")),
      caPath: p("ca.pem"),
      serverCert: await readFile(p("server.pem")),
      serverCertPath: p("server.pem"),
      serverKey: await readFile(p("server.key")),
      serverKeyPath: p("server.key"),
      clientCert: await readFile(p("client.pem")),
      clientKey: await readFile(p("client.key")),
      [Symbol.asyncDispose]: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
