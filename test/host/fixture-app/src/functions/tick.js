const { app } = require("@azure/functions");

app.timer("tick", {
  schedule: "%TICK_SCHEDULE%",
  handler: (timer, context) => {
    context.log(`tick ${JSON.stringify(timer)}`);
  },
});

app.timer("startupTick", {
  schedule: "0 0 0 1 1 *",
  runOnStartup: true,
  handler: (_timer, context) => {
    context.log("startupTick ran");
  },
});
