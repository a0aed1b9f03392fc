// The Restate side of S8 (docs/benchmarks.md): a Restate workflow doing the job of
// Podium's S3 workflow, three durable steps that do nothing (as the S3 workers do
// nothing but answer `{"done": true}`). Each `ctx.run` proposes its result to the
// Restate server and resumes only once the server has written the result to its log
// and acknowledged it.
//
// Usage: node restate-service.mjs   (run.mjs starts it). It listens on 127.0.0.1 on a
// port the kernel picks and prints `listening PORT` on stdout.

import * as http2 from "node:http2";

// The SDK calls Promise.withResolvers (Node 22); Node 20 lacks it. This is the
// standard's definition, installed before the SDK loads.
if (typeof Promise.withResolvers !== "function") {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new this((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
const restate = await import("@restatedev/restate-sdk");

const step = async () => ({ done: true });

const flow = restate.workflow({
  name: "s8_flow",
  handlers: {
    run: async (ctx, input) => {
      await ctx.run("s3_a", step);
      await ctx.run("s3_b", step);
      await ctx.run("s3_c", step);
      return { n: input?.n ?? null };
    },
  },
});

// The SDK's own server (`restate.serve`) listens on every interface; this one only on
// loopback, with the SDK's HTTP/2 handler (bidirectional streaming, as `serve` uses).
const handler = restate.endpoint().bind(flow).http2Handler();
const server = http2.createServer(handler);
server.listen(0, "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
