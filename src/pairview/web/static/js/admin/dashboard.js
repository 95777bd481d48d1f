// The usage dashboard: a range of UTC days, live counts, charts and a CSV export.

import { request, requireUser, showError } from "../account/api.js";
import { barList, columnChart } from "./chart.js";

const CONNECTION_SERIES = [
  { key: "direct", name: "Direct" },
  { key: "nat", name: "Through NAT" },
  { key: "relay", name: "Relayed (TURN)" },
];

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

function daysBefore(end, count) {
  const start = new Date(`${end}T00:00:00Z`);
  start.setUTCDate(start.getUTCDate() - (count - 1));
  return isoDay(start);
}

function shortDay(day) {
  return day.slice(5);
}

function rangeFromAddress() {
  const query = new URLSearchParams(location.search);
  const end = query.get("end") || isoDay(new Date());
  const start = query.get("start") || daysBefore(end, 30);
  return { start, end };
}

function showRange({ start, end }) {
  document.getElementById("start").value = start;
  document.getElementById("end").value = end;
  const query = new URLSearchParams({ start, end });
  document.getElementById("csv-link").href = `/api/admin/usage.csv?${query}`;
}

function draw(summary) {
  for (const key of ["rooms", "participants", "websockets"]) {
    document.getElementById(`now-${key}`).textContent = String(summary.now[key]);
  }
  const totals = summary.connection_totals;
  const all = Object.values(totals).reduce((sum, count) => sum + count, 0);
  document.getElementById("relay-share").textContent = all === 0
    ? "no connections in this range"
    : `${Math.round((totals.relay / all) * 100)}% of ${all} connections`;

  const days = summary.days.map(shortDay);
  columnChart(document.getElementById("chart-rooms"), {
    labels: days,
    series: [{ key: "rooms", name: "Rooms", values: summary.rooms_per_day }],
  });
  const sizes = Object.keys(summary.participants_per_room);
  columnChart(document.getElementById("chart-participants"), {
    labels: sizes,
    series: [{ key: "rooms", name: "Rooms", values: sizes.map((size) => summary.participants_per_room[size]) }],
    unit: " rooms",
  });
  columnChart(document.getElementById("chart-connections"), {
    labels: days,
    series: CONNECTION_SERIES.map(({ key, name }) => ({ key, name, values: summary.connections_per_day[key] })),
    percent: true,
  });
  columnChart(document.getElementById("chart-hours"), {
    labels: summary.busiest_hours.map((_, hour) => String(hour).padStart(2, "0")),
    series: [{ key: "hours", name: "Participants", values: summary.busiest_hours }],
  });
  barList(document.getElementById("chart-clients"), Object.entries(summary.clients), "clients");
  barList(document.getElementById("chart-os"), Object.entries(summary.operating_systems), "os");

  const body = document.querySelector("#event-table tbody");
  body.replaceChildren();
  for (const [kind, count] of Object.entries(summary.events)) {
    const row = body.insertRow();
    row.insertCell().textContent = kind;
    const cell = row.insertCell();
    cell.textContent = String(count);
    cell.className = "number";
  }
}

async function load(range) {
  const charts = document.getElementById("charts");
  charts.dataset.state = "loading";
  showRange(range);
  try {
    const query = new URLSearchParams(range);
    draw(await request("GET", `/api/admin/usage?${query}`));
    charts.dataset.state = "ready";
  } catch (error) {
    charts.dataset.state = "error";
    showError(error);
  }
}

async function main() {
  await requireUser();
  const form = document.getElementById("range-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const range = { start: form.start.value, end: form.end.value };
    history.replaceState(null, "", `?${new URLSearchParams(range)}`);
    load(range);
  });
  for (const button of form.querySelectorAll("button[data-days]")) {
    button.addEventListener("click", () => {
      const end = isoDay(new Date());
      const range = { start: daysBefore(end, Number(button.dataset.days)), end };
      history.replaceState(null, "", `?${new URLSearchParams(range)}`);
      load(range);
    });
  }
  await load(rangeFromAddress());
}

main().catch(showError);
