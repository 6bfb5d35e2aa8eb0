// pm2's documented programmatic example (pm2.keymetrics.io, "Programmatic API"), unchanged
// except for the require: pm-native's package is a drop-in for require('pm2').
//
//   node examples/library/pm2-api.js [script]    # default: examples/app.js
const pm2 = require('pm-native');

pm2.connect(function (err) {
  if (err) {
    console.error(err);
    process.exit(2);
  }

  pm2.start(
    {
      script: process.argv[2] || require('path').join(__dirname, '..', 'app.js'),
      name: 'api',
      exec_mode: 'cluster', // Allows your app to be clustered
      instances: 2, // Optional: Scales your app by 2
      max_memory_restart: '100M', // Optional: Restarts your app if it reaches 100Mo
    },
    function (err, apps) {
      if (err) {
        console.error(err);
        return pm2.disconnect();
      }

      pm2.list((err, list) => {
        console.log(err, list.map((p) => `${p.name} ${p.pm_id} ${p.pm2_env.status}`));

        pm2.restart('api', (err, proc) => {
          // Disconnects from PM2
          pm2.disconnect();
        });
      });
    },
  );
});
