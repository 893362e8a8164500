// The webhook receiver of otel-collector/alertmanager.yml (both receivers, page and ticket):
// appends every Alertmanager notification as one JSON line to $ALERT_FILE and logs a one-line
// summary per alert, with the receiver that got it.
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:http';

const file = process.env.ALERT_FILE ?? '/alerts/alerts.jsonl';
const port = Number(process.env.PORT ?? 8080);

createServer((request, response) => {
  let body = '';
  request.on('data', (chunk) => (body += chunk));
  request.on('end', () => {
    try {
      const notification = JSON.parse(body);
      appendFileSync(file, `${JSON.stringify(notification)}\n`);
      for (const alert of notification.alerts ?? []) {
        console.log(`${notification.receiver} ${alert.status} ${alert.labels.alertname} ${alert.labels.severity ?? ''} ${alert.labels.ssh_pool_name ?? alert.labels.job ?? ''}`);
      }
      response.writeHead(200).end();
    } catch (error) {
      console.error(`bad notification: ${error}`);
      response.writeHead(400).end();
    }
  });
}).listen(port, () => console.log(`alert sink on :${port}, writing ${file}`));
