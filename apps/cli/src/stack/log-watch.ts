import { type FSWatcher, watch } from "node:fs";
import { open } from "node:fs/promises";

/**
 * Follows a log file from `offset`, calling `onLine` for each complete line as
 * it is appended (inotify via fs.watch: no polling). `close()` stops it.
 */
export interface LogWatch {
  close(): void;
}

export function watchLog(file: string, offset: number, onLine: (line: string) => void): LogWatch {
  let position = offset;
  let partial = "";
  let reading = false;
  let again = false;
  let closed = false;

  const readMore = async () => {
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    try {
      do {
        again = false;
        const handle = await open(file, "r");
        try {
          const buf = Buffer.alloc(64 * 1024);
          for (;;) {
            const { bytesRead } = await handle.read(buf, 0, buf.length, position);
            if (bytesRead === 0) break;
            position += bytesRead;
            const lines = (partial + buf.subarray(0, bytesRead).toString("utf8")).split("\n");
            partial = lines.pop() ?? "";
            for (const line of lines) {
              if (!closed) onLine(line);
            }
          }
        } finally {
          await handle.close();
        }
      } while (again && !closed);
    } catch {
      // The file vanished or is unreadable: the caller's timeout reports it.
    } finally {
      reading = false;
    }
  };

  const watcher: FSWatcher = watch(file, () => void readMore());
  watcher.on("error", () => {});
  void readMore();
  return {
    close() {
      closed = true;
      watcher.close();
    },
  };
}
