import { connectDocker } from "@reins/testkit";

export interface ContainerWatch extends AsyncDisposable {
  /** `docker inspect` of every container created with the label, taken right after its creation. */
  readonly inspected: Array<{ id: string; json: string }>;
  /** Containers created with the label that were gone before they could be inspected. */
  readonly missed: string[];
  /** Stops watching once the inspections already started are done. */
  stop(): Promise<void>;
}

/**
 * Inspects every container created with `label` ("key=value") from now on,
 * as Docker reports its creation, so a test can check what the daemon gave
 * each container (Env, Cmd, Labels, Mounts) even though they are removed after
 * one call.
 */
export async function watchContainers(label: string): Promise<ContainerWatch> {
  const docker = connectDocker();
  const inspected: Array<{ id: string; json: string }> = [];
  const missed: string[] = [];
  const pending: Array<Promise<void>> = [];
  const stream = (await docker.getEvents({
    filters: { type: ["container"], event: ["create"], label: [label] },
  })) as NodeJS.ReadableStream & { destroy(): void };
  let buffer = "";
  stream.on("data", (chunk: Buffer) => {
    buffer += chunk.toString("utf8");
    for (let nl = buffer.indexOf("\n"); nl !== -1; nl = buffer.indexOf("\n")) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (line === "") continue;
      const id = (JSON.parse(line) as { id?: string }).id;
      if (!id) continue;
      pending.push(
        docker
          .getContainer(id)
          .inspect()
          .then(
            (info) => void inspected.push({ id, json: JSON.stringify(info) }),
            () => void missed.push(id),
          ),
      );
    }
  });
  const stop = async () => {
    stream.destroy();
    await Promise.all(pending);
  };
  return { inspected, missed, stop, [Symbol.asyncDispose]: stop };
}
