/* The schematic map of the Yangtze River Delta: projection and outlines.
 *
 * The outlines of Shanghai, Jiangsu, Zhejiang and Anhui are hand-made approximate polygons in
 * longitude/latitude, a dozen or two points each: schematic, not survey borders. Cities are placed
 * by their real coordinates (from the node's /dashboard/topology). No tiles, no network access.
 */
"use strict";

const YRD_MAP = (() => {
  const WEST = 114.6, EAST = 123.0, NORTH = 35.4, SOUTH = 26.9;
  const SCALE = 95; // pixels per degree of latitude
  const COS_LAT = Math.cos((31.2 * Math.PI) / 180); // equirectangular, true at the delta's centre
  const MARGIN = 10;
  const WIDTH = Math.round((EAST - WEST) * COS_LAT * SCALE + 2 * MARGIN);
  const HEIGHT = Math.round((NORTH - SOUTH) * SCALE + 2 * MARGIN);

  /** [x, y] in the SVG's user units for a longitude and latitude. */
  function project(lon, lat) {
    return [MARGIN + (lon - WEST) * COS_LAT * SCALE, MARGIN + (NORTH - lat) * SCALE];
  }

  const PROVINCES = [
    {
      id: "anhui", name_zh: "安徽", name_en: "Anhui", label: [116.55, 32.75],
      outline: [
        [116.36, 34.62], [116.55, 34.25], [116.95, 34.10], [117.40, 34.05], [117.75, 33.70],
        [118.05, 33.15], [118.35, 32.75], [118.70, 32.55], [118.55, 32.20], [118.45, 31.95],
        [118.55, 31.75], [118.70, 31.45], [118.90, 31.28], [119.10, 31.25], [119.35, 31.30],
        [119.60, 31.12], [119.50, 30.85], [119.30, 30.45], [118.90, 30.05], [118.45, 29.55],
        [118.15, 29.25], [117.45, 29.50], [116.85, 29.68], [116.15, 29.85], [115.90, 30.20],
        [115.85, 30.70], [115.40, 31.20], [115.35, 31.55], [115.70, 31.90], [115.45, 32.40],
        [114.95, 32.85], [115.10, 33.30], [115.60, 33.75], [115.95, 34.05], [116.20, 34.40],
      ],
    },
    {
      id: "jiangsu", name_zh: "江苏", name_en: "Jiangsu", label: [119.55, 33.35],
      outline: [
        [116.36, 34.62], [116.65, 34.95], [117.20, 34.70], [117.75, 34.60], [118.35, 34.75],
        [118.85, 35.05], [119.25, 35.10], [119.45, 34.75], [119.85, 34.45], [120.25, 34.30],
        [120.55, 33.70], [120.85, 33.05], [121.10, 32.60], [121.45, 32.35], [121.90, 31.75],
        [121.15, 31.50], [121.05, 31.30], [120.90, 31.15], [120.88, 31.02], [120.60, 30.96],
        [120.35, 30.93], [120.10, 31.05], [119.80, 31.15], [119.60, 31.12], [119.35, 31.30],
        [119.10, 31.25], [118.90, 31.28], [118.70, 31.45], [118.55, 31.75], [118.45, 31.95],
        [118.55, 32.20], [118.70, 32.55], [118.35, 32.75], [118.05, 33.15], [117.75, 33.70],
        [117.40, 34.05], [116.95, 34.10], [116.55, 34.25],
      ],
    },
    {
      id: "zhejiang", name_zh: "浙江", name_en: "Zhejiang", label: [119.55, 29.15],
      outline: [
        [119.60, 31.12], [119.80, 31.15], [120.10, 31.05], [120.35, 30.93], [120.60, 30.96],
        [120.88, 31.02], [121.00, 30.80], [121.28, 30.70], [120.95, 30.52], [120.65, 30.45],
        [120.50, 30.33], [120.80, 30.25], [121.25, 30.30], [121.70, 30.02], [121.92, 29.85],
        [121.95, 29.55], [121.70, 29.25], [121.95, 28.90], [121.65, 28.55], [121.45, 28.20],
        [121.05, 28.05], [120.85, 27.78], [120.60, 27.40], [120.45, 27.15], [120.20, 27.25],
        [119.80, 27.50], [119.40, 27.60], [118.95, 27.45], [118.75, 27.80], [118.40, 28.30],
        [118.05, 28.70], [118.15, 29.25], [118.45, 29.55], [118.90, 30.05], [119.30, 30.45],
        [119.50, 30.85],
      ],
    },
    {
      id: "shanghai", name_zh: "上海", name_en: "Shanghai", label: [122.45, 30.55],
      outline: [
        [121.15, 31.50], [121.45, 31.46], [121.75, 31.30], [121.95, 31.12], [121.97, 30.88],
        [121.55, 30.82], [121.28, 30.70], [121.00, 30.80], [120.88, 31.02], [120.90, 31.15],
        [121.05, 31.30],
      ],
    },
    {
      id: "shanghai-chongming", name_zh: "", name_en: "", label: null,
      outline: [
        [121.20, 31.82], [121.55, 31.70], [121.95, 31.55], [121.90, 31.48], [121.45, 31.58],
        [121.18, 31.76],
      ],
      province: "shanghai",
    },
  ];

  const YANGTZE = [
    [115.85, 29.95], [116.55, 30.30], [117.05, 30.52], [117.50, 30.70], [117.80, 30.95],
    [118.38, 31.35], [118.50, 31.70], [118.75, 32.08], [119.45, 32.22], [120.28, 31.93],
    [120.85, 31.98], [121.30, 31.72], [121.95, 31.40],
  ];
  /** Where a city's name goes relative to its centre, where the default (above) would collide. */
  const LABELS = {
    default: { dx: 0, dy: -34, anchor: "middle" },
    shanghai: { dx: 31, dy: -20, anchor: "start" },
    suzhou: { dx: 0, dy: 44, anchor: "middle" },
    hangzhou: { dx: 0, dy: 46, anchor: "middle" },
  };
  const TAIHU = { lon: 120.22, lat: 31.22, rx: 0.30, ry: 0.27 };

  function pathOf(points, close) {
    return points.map(([lon, lat], i) => {
      const [x, y] = project(lon, lat);
      return `${i ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`;
    }).join("") + (close ? "Z" : "");
  }

  return { WIDTH, HEIGHT, project, PROVINCES, YANGTZE, TAIHU, LABELS, pathOf, COS_LAT, SCALE };
})();
