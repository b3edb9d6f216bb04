// The console's charts, drawn by uPlot (static/vendor/uplot: MIT, see its README): a store's
// (or the chain's) sales by hour beside the same weekday a week before, points earned and
// redeemed per day, the points members hold and the members per tier per day, and a
// campaign's uses, points and promoted items sold per day. Each chart is a canvas with a label saying what it shows; the numbers themselves are
// one click away as CSV.

import uPlot from '../vendor/uplot/uPlot.esm.js';
import { calendarDate, money, tierName } from './format.js';
import { number, t } from './i18n.js';

const BROWN = '#6f4e37';
const GREY = '#9a8f86';
const GREEN = '#2f6b3a';

function width(container) {
  return Math.max(260, Math.floor(container.clientWidth || 600));
}

// Draw `options` over `data` into `container` (replacing what it held), resized with it.
function draw(container, options, data, label) {
  container.replaceChildren();
  container.setAttribute('role', 'img');
  container.setAttribute('aria-label', label);
  const chart = new uPlot({ width: width(container), height: 220, ...options }, data, container);
  new ResizeObserver(() => chart.setSize({ width: width(container), height: 220 })).observe(container);
  return chart;
}

const bars = uPlot.paths.bars({ size: [0.6, 40] });
const numbers = (_, ticks) => ticks.map((tick) => number(tick));

// report: GET .../reports/sales-by-hour. Amounts paid per local hour, today as bars, the
// same weekday a week before as a line.
export function salesByHourChart(container, report, currency = 'RUB') {
  const xs = report.hours.map((_, at) => at);
  const today = report.hours.map((hour) => hour.amount / 100);
  const before = report.week_before_hours.map((hour) => hour.amount / 100);
  const sales = report.hours.reduce((sum, hour) => sum + hour.sales, 0);
  const label = t('charts.by_hour_label', { day: calendarDate(report.day), count: sales, amount: money(report.hours.reduce((sum, hour) => sum + hour.amount, 0), currency) });
  return draw(
    container,
    {
      scales: { x: { time: false } },
      axes: [
        { values: (_, ticks) => ticks.map((tick) => (report.hours[tick] ? String(report.hours[tick].hour).padStart(2, '0') : '')) },
        { values: numbers, size: 60 },
      ],
      series: [
        { label: t('charts.hour'), value: (_, at) => (report.hours[at] ? String(report.hours[at].hour).padStart(2, '0') : '—') },
        { label: calendarDate(report.day), stroke: BROWN, fill: 'rgba(111, 78, 55, 0.35)', paths: bars, points: { show: false } },
        { label: calendarDate(report.week_before), stroke: GREY, width: 2, dash: [6, 4] },
      ],
    },
    [xs, today, before],
    label,
  );
}

// A chart over `days` (each with its `day`): the x axis names the days, `series` the lines
// or bars (uPlot series options) whose values `data` gives, one array per series; `more`
// adds scales and axes (a second y axis).
function byDay(container, days, series, data, label, more = { scales: {}, axes: [] }) {
  return draw(
    container,
    {
      // Half a day either side: a bar on the first or last day is drawn whole.
      scales: { x: { time: false, range: (_, min, max) => [min - 0.5, max + 0.5] }, ...more.scales },
      axes: [
        { values: (_, ticks) => ticks.map((tick) => (days[tick] ? days[tick].day.slice(5) : '')) },
        { values: numbers, size: 60 },
        ...more.axes,
      ],
      series: [{ label: t('charts.day'), value: (_, at) => (days[at] ? calendarDate(days[at].day) : '—') }, ...series],
    },
    [days.map((_, at) => at), ...data],
    label,
  );
}

const total = (values) => values.reduce((sum, value) => sum + value, 0);

// report: GET .../reports/points-by-day. Points earned and redeemed per business day.
export function pointsByDayChart(container, report) {
  const earned = report.days.map((day) => day.points_earned);
  const redeemed = report.days.map((day) => day.points_redeemed);
  const label = t('charts.by_day_label', {
    first: calendarDate(report.days[0]?.day),
    last: calendarDate(report.days.at(-1)?.day),
    earned: number(total(earned)),
    redeemed: number(total(redeemed)),
  });
  const series = [
    { label: t('charts.earned'), stroke: GREEN, width: 2 },
    { label: t('charts.redeemed'), stroke: BROWN, width: 2 },
  ];
  return byDay(container, report.days, series, [earned, redeemed], label);
}

// report: GET /v1/admin/reports/program-days. The points members hold at each day's end.
export function liabilityChart(container, report) {
  const days = report.days;
  const last = days.at(-1);
  const label = last
    ? t('charts.liability_label', { day: calendarDate(last.day), count: last.points_outstanding })
    : t('charts.no_data');
  const series = [
    { label: t('charts.outstanding'), stroke: BROWN, width: 2, fill: 'rgba(111, 78, 55, 0.15)' },
    { label: t('charts.available'), stroke: GREEN, width: 2 },
    { label: t('charts.pending'), stroke: GREY, width: 2, dash: [6, 4] },
  ];
  const data = ['points_outstanding', 'points_available', 'points_pending'].map((field) => days.map((day) => day[field]));
  return byDay(container, days, series, data, label);
}

const TIER_COLOURS = { green: GREEN, gold: '#b8860b', platinum: '#5b6b7a' };

// The same report's members per tier, on the days a snapshot counted them.
export function tiersChart(container, report) {
  const days = report.days.filter((day) => day.tiers);
  const last = days.at(-1);
  const label = last
    ? t('charts.tiers_label', {
        day: calendarDate(last.day),
        tiers: report.tiers.map((tier) => `${tierName(tier)}: ${number(last.tiers[tier])}`).join(', '),
      })
    : t('charts.no_data');
  const series = report.tiers.map((tier) => ({ label: tierName(tier), stroke: TIER_COLOURS[tier] || GREY, width: 2 }));
  return byDay(container, days, series, report.tiers.map((tier) => days.map((day) => day.tiers[tier])), label);
}

// report: GET /v1/admin/campaigns/{id}/report. Uses and promoted units sold per day (left
// axis), the points it awarded (right axis).
export function campaignChart(container, report) {
  const days = report.days;
  const label = t('charts.campaign_label', {
    name: report.name,
    count: report.uses,
    points: number(report.points),
    sold: number(total(days.map((day) => day.item_quantity))),
  });
  const series = [
    { label: t('charts.uses'), stroke: BROWN, fill: 'rgba(111, 78, 55, 0.35)', paths: bars, points: { show: false } },
    { label: t('charts.items_sold'), stroke: GREEN, width: 2 },
    { label: t('charts.points'), stroke: GREY, width: 2, dash: [6, 4], scale: 'points' },
  ];
  const data = ['uses', 'item_quantity', 'points'].map((field) => days.map((day) => day[field]));
  const pointsAxis = { scale: 'points', side: 1, grid: { show: false }, values: numbers, size: 60 };
  return byDay(container, days, series, data, label, { scales: { points: {} }, axes: [pointsAxis] });
}

// Fetch `path` (CSV, with the caller's token) and hand it to the browser as `filename`.
export async function downloadCsv(api, path, filename) {
  const text = await api.get(path, { as: 'text' });
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
