import { sandboxImages } from "@reins/launch";
import { describe, expect, it } from "vitest";
import { connectDocker, listLabelledContainers, removeLabelledContainers } from "./docker.js";
import { startDockerd } from "./dockerd.js";

describe("startDockerd", () => {
  it("runs a private engine that survives a restart, with images copied in", async () => {
    await using dockerd = await startDockerd({ images: [sandboxImages.tiny] });
    const label = `reins.test=${process.pid}-${Date.now()}`;
    const [key, value] = label.split("=") as [string, string];
    const container = await dockerd.docker.createContainer({
      Image: sandboxImages.tiny,
      Cmd: ["true"],
      Labels: { [key]: value },
      HostConfig: { NetworkMode: "none" },
    });
    expect(await listLabelledContainers(dockerd.docker, label)).toEqual([container.id]);
    await dockerd.restart();
    expect(await listLabelledContainers(dockerd.docker, label)).toEqual([container.id]);
    expect(await removeLabelledContainers(dockerd.docker, label)).toBe(1);
    expect(await listLabelledContainers(dockerd.docker, label)).toEqual([]);
    // The shared engine never saw it.
    expect(await listLabelledContainers(connectDocker(), label)).toEqual([]);
  }, 120_000);
});
