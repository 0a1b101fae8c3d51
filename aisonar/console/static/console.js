// AI Sonar console: enhancements only. Every page works without this script.
"use strict";

(function () {
  function readJson(id) {
    var element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  function plainNumber(value) {
    return Number(value).toLocaleString(document.documentElement.lang, { maximumSignificantDigits: 6 });
  }

  var palette = ["#1f5fbf", "#e07b24", "#2e9e6a", "#8e44ad", "#c0392b", "#16a0b5"];

  function costChart(canvas, data) {
    return new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels.map(function (day) { return day.slice(5); }),
        datasets: [{ label: canvas.getAttribute("aria-label"), data: data.values.map(Number), backgroundColor: palette[0] }],
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: false } },
        scales: { y: { beginAtZero: true, ticks: { callback: plainNumber } } },
      },
    });
  }

  function modelsChart(canvas, data) {
    // The series and their axes are named as the table's columns are.
    var headers = document.querySelectorAll("#models-table thead th");
    var names = {
      requests: headers[1].textContent,
      tokens: headers[2].textContent + " + " + headers[3].textContent,
      cost: headers[4].textContent,
    };
    function axis(name, position, grid) {
      return { type: "linear", position: position, beginAtZero: true, title: { display: true, text: names[name] }, grid: { drawOnChartArea: grid }, ticks: { callback: plainNumber } };
    }
    return new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          { label: names.requests, data: data.requests, backgroundColor: palette[0], yAxisID: "requests" },
          { label: names.tokens, data: data.tokens, backgroundColor: palette[1], yAxisID: "tokens" },
          { label: names.cost, data: data.cost.map(Number), backgroundColor: palette[2], yAxisID: "cost" },
        ],
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        scales: { requests: axis("requests", "left", true), tokens: axis("tokens", "right", false), cost: axis("cost", "right", false) },
      },
    });
  }

  var charts = { cost: costChart, models: modelsChart };

  function drawCharts() {
    if (!window.Chart) {
      return;
    }
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var name = canvas.getAttribute("data-chart");
      var data = readJson("chart-" + name);
      if (data && charts[name]) {
        charts[name](canvas, data);
        canvas.setAttribute("data-drawn", "true");
      }
    });
  }

  function enableCopyButtons() {
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source || !navigator.clipboard) {
        return;
      }
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(source.textContent.trim()).then(function () {
          button.textContent = button.getAttribute("data-copied");
        });
      });
    });
  }

  function consented() {
    return document.cookie.split(";").some(function (part) {
      return part.trim() === "aisonar_consent=analytics";
    });
  }

  function reportPageView() {
    if (!consented()) {
      return;
    }
    fetch("/api/site/pageview", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ path: location.pathname, referrer: document.referrer || null }),
    }).catch(function () {});
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts();
    enableCopyButtons();
    reportPageView();
  });
})();
