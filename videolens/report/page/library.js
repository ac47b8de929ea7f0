(function(){
  var table=document.getElementById('videos'), body=table.tBodies[0], filter=document.getElementById('status-filter');
  var v=document.getElementById('player'), now=document.getElementById('now-playing');
  var videos=JSON.parse(document.getElementById('videos-data').textContent);
  table.querySelectorAll('th[data-sort]').forEach(function(th, col){
    th.addEventListener('click',function(){
      var k=th.cellIndex, asc=th.dataset.dir!=='asc', num=th.dataset.sort==='num';
      table.querySelectorAll('th').forEach(function(h){ delete h.dataset.dir; });
      th.dataset.dir=asc?'asc':'desc';
      var rows=[].slice.call(body.rows);
      rows.sort(function(a,b){
        var x=a.cells[k].dataset.v, y=b.cells[k].dataset.v, r;
        if(num){ x=x===''?-Infinity:parseFloat(x); y=y===''?-Infinity:parseFloat(y); r=x-y; }
        else r=String(x).localeCompare(String(y));
        return asc?r:-r;
      });
      rows.forEach(function(r){ body.appendChild(r); });
    });
  });
  filter.addEventListener('change',function(){
    [].forEach.call(body.rows,function(r){ r.hidden=!!filter.value&&r.dataset.status!==filter.value; });
  });
  function play(e){
    var vid=videos[e.v]; if(!vid||!vid.src||!v) return;
    now.textContent=vid.name;
    var go=function(){ try{ v.currentTime=Math.max(0,e.s); }catch(x){} var p=v.play(); if(p&&p.catch) p.catch(function(){}); };
    if(v.dataset.video===String(e.v)&&v.readyState>=1) go();
    else { v.dataset.video=String(e.v); v.preload='auto'; v.addEventListener('loadedmetadata',go,{once:true});
           v.src=vid.src; v.load(); }
  }
  vlSearch(JSON.parse(document.getElementById('search-data').textContent), videos, play);
})();
