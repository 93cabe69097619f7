/** The images scripts/build-images.sh builds locally, from Debian packages. */
export const sandboxImages = {
  /** bash, coreutils, python3: the catalog's default for real work. */
  full: "reins/sandbox",
  /** busybox only, built in a second: what tests and benches run tools in. */
  tiny: "reins/sandbox-tiny",
} as const;

/**
 * The image tests and benches run their tools in: REINS_SANDBOX_IMAGE (the
 * executor's own override, so one variable moves both), else the tiny image.
 */
export function testImage(env: NodeJS.ProcessEnv = process.env): string {
  return env.REINS_SANDBOX_IMAGE || sandboxImages.tiny;
}
