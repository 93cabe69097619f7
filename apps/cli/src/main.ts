#!/usr/bin/env node
import { runCli } from "./cli.js";

const code = await runCli(process.argv);
// Open HTTP/2 sessions would otherwise keep the process alive for their idle timeout.
process.exit(code);
